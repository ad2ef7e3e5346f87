#include "pilot/debug/model_json.h"

#include "networking/v1alpha3/service_entry.pb.h"
#include "keel/k8s/v1/objects.pb.h"
#include "pilot/debug/json.h"

namespace keel::pilot::debug {

google::protobuf::Value PortValue(const model::ServicePort& port) {
  google::protobuf::Value v;
  auto& f = Fields(v);
  if (!port.name.empty()) f["name"] = StringValue(port.name);
  f["port"] = NumberValue(port.port);
  if (!port.protocol.empty()) f["protocol"] = StringValue(port.protocol);
  return v;
}

google::protobuf::Value ServiceValue(const model::Service& service, const model::PushContext& push) {
  model::ConfigPtr source;
  if (auto it = push.configs()->find(service.source); it != push.configs()->end()) source = it->second;

  google::protobuf::Value v;
  auto& f = Fields(v);
  google::protobuf::Value attributes;
  auto& a = Fields(attributes);
  const bool kube = service.source.kind == model::Kind::kService;
  a["ServiceRegistry"] = StringValue(kube ? "Kubernetes" : "External");
  a["Name"] = StringValue(service.name);
  a["Namespace"] = StringValue(service.ns);
  if (source && !source->meta.labels.empty()) a["Labels"] = StringMapValue(source->meta.labels);
  if (source && kube) {
    const auto& spec = source->As<::keel::k8s::v1::Service>().spec();
    std::map<std::string, std::string> selector(spec.selector().begin(), spec.selector().end());
    if (!selector.empty()) a["LabelSelectors"] = StringMapValue(selector);
    a["Type"] = StringValue(spec.type().empty() ? "ClusterIP" : spec.type());
  } else if (source && service.source.kind == model::Kind::kServiceEntry) {
    const auto& se = source->As<::istio::networking::v1alpha3::ServiceEntry>();
    if (se.has_workload_selector()) {
      a["LabelSelectors"] = StringMapValue({se.workload_selector().labels().begin(), se.workload_selector().labels().end()});
    }
  }
  f["Attributes"] = std::move(attributes);

  f["hostname"] = StringValue(service.hostname);
  google::protobuf::Value ports = EmptyList();
  for (const auto& p : service.ports) Append(ports) = PortValue(p);
  if (!service.ports.empty()) f["ports"] = std::move(ports);
  google::protobuf::Value vips;
  auto& addresses = Fields(Fields(vips)["Addresses"]);
  if (!service.vip.empty()) addresses[kClusterId] = StringListValue({service.vip});
  f["clusterVIPs"] = std::move(vips);
  // istiod's default address for a service without a VIP is 0.0.0.0 (UnspecifiedIP).
  f["defaultAddress"] = StringValue(service.vip.empty() ? "0.0.0.0" : service.vip);
  if (source && !source->meta.creation_timestamp.empty()) {
    f["creationTime"] = StringValue(source->meta.creation_timestamp);
  }
  // model.Resolution is an int: ClientSideLB 0, DNSLB 1, Passthrough 2.
  int resolution = 0;
  if (service.resolution == model::Resolution::kDnsLb) resolution = 1;
  if (service.resolution == model::Resolution::kPassthrough) resolution = 2;
  f["Resolution"] = NumberValue(resolution);
  f["MeshExternal"] = BoolValue(service.mesh_external);
  f["ResourceVersion"] = StringValue(source ? source->meta.resource_version : "");
  return v;
}

}  // namespace keel::pilot::debug
