#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "pilot/debug/handlers.h"
#include "pilot/debug/json.h"
#include "pilot/debug/model_json.h"

namespace keel::pilot::debug {
namespace {

// istiod's IstioEndpoint, with Go's field names (it has no JSON tags).
google::protobuf::Value EndpointValue(const model::Endpoint& ep, const model::Service& service,
                                      const model::ServicePort& port, const std::string& trust_domain) {
  google::protobuf::Value v;
  auto& f = Fields(v);
  f["Labels"] = StringMapValue(ep.labels);
  f["Address"] = StringValue(ep.address);
  f["ServicePortName"] = StringValue(port.name);
  f["ServiceAccount"] = StringValue(
      ep.service_account.empty()
          ? ""
          : absl::StrCat("spiffe://", trust_domain, "/ns/", service.ns, "/sa/", ep.service_account));
  std::string locality = ep.region;
  if (!ep.zone.empty() || !ep.sub_zone.empty()) absl::StrAppend(&locality, "/", ep.zone);
  if (!ep.sub_zone.empty()) absl::StrAppend(&locality, "/", ep.sub_zone);
  google::protobuf::Value loc;
  Fields(loc)["Label"] = StringValue(locality);
  Fields(loc)["ClusterID"] = StringValue(kClusterId);
  f["Locality"] = std::move(loc);
  f["EndpointPort"] = NumberValue(ep.port);
  f["LbWeight"] = NumberValue(ep.weight);
  f["Namespace"] = StringValue(service.ns);
  f["WorkloadName"] = StringValue(ep.workload_name);
  // model.HealthStatus: unset 0, Healthy 1, UnHealthy 2.
  f["HealthStatus"] = NumberValue(static_cast<int>(ep.health));
  return v;
}

// Go's %v of a map[string]string: map[k1:v1 k2:v2].
std::string GoMap(const std::map<std::string, std::string>& m) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : m) parts.push_back(absl::StrCat(k, ":", v));
  return absl::StrCat("map[", absl::StrJoin(parts, " "), "]");
}

}  // namespace

http::HttpHandler MakeEndpointzHandler(const xds::AdsServer& ads) {
  return [&ads](const http::HttpRequest& request) {
    model::PushContextPtr push = ads.CurrentPush();
    const std::string trust_domain = push ? push->mesh().trust_domain() : "";
    const bool brief = request.query.count("brief") > 0;
    std::string text;
    google::protobuf::Value out = EmptyList();
    static const std::vector<model::Service> kNone;
    for (const auto& service : push ? push->services() : kNone) {
      if (push->ServiceForHost(service.hostname) != &service) continue;
      for (const auto& port : service.ports) {
        const auto& endpoints = push->Endpoints(service.hostname, port.port);
        if (brief) {
          for (const auto& ep : endpoints) {
            absl::StrAppend(&text, service.hostname, ":", port.name, " ", ep.address, ":", ep.port, " ",
                            GoMap(ep.labels), " ",
                            ep.service_account.empty()
                                ? ""
                                : absl::StrCat("spiffe://", trust_domain, "/ns/", service.ns, "/sa/",
                                               ep.service_account),
                            "\n");
          }
          continue;
        }
        auto& entry = Fields(Append(out));
        entry["svc"] = StringValue(absl::StrCat(service.hostname, ":", port.name));
        google::protobuf::Value eps = EmptyList();
        for (const auto& ep : endpoints) {
          auto& instance = Fields(Append(eps));
          instance["service"] = ServiceValue(service, *push);
          instance["servicePort"] = PortValue(port);
          instance["endpoint"] = EndpointValue(ep, service, port, trust_domain);
        }
        entry["ep"] = std::move(eps);
      }
    }
    if (brief) return http::HttpResponse{200, "text/plain", text};
    return JsonResponse(out);
  };
}

}  // namespace keel::pilot::debug
