#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "networking/v1alpha3/virtual_service.pb.h"
#include "pilot/debug/handlers.h"
#include "pilot/debug/json.h"
#include "pilot/model/kind_schema.h"

namespace keel::pilot::debug {
namespace {

// istiod's ProxyPushStatus: {"proxy", "message"}, both omitted when empty.
google::protobuf::Value ProxyPushStatus(const std::string& message) {
  google::protobuf::Value v = EmptyObject();
  if (!message.empty()) Fields(v)["message"] = StringValue(message);
  return v;
}

// pilot_eds_no_instances: EDS clusters (client-side load balanced service ports)
// with no endpoints, keyed by cluster name.
google::protobuf::Value NoInstances(const model::PushContext& push) {
  google::protobuf::Value out = EmptyObject();
  for (const auto& service : push.services()) {
    if (push.ServiceForHost(service.hostname) != &service) continue;
    if (service.resolution != model::Resolution::kClientSideLb) continue;
    for (const auto& port : service.ports) {
      if (push.Endpoints(service.hostname, port.port).empty()) {
        Fields(out)[absl::StrCat("outbound|", port.port, "||", service.hostname)] = ProxyPushStatus("");
      }
    }
  }
  return out;
}

// pilot_vservice_dup_domain: hosts that more than one mesh VirtualService claims;
// proxies that see several use the oldest (Istio's rule), so the others are ignored.
google::protobuf::Value DuplicateDomains(const model::PushContext& push) {
  std::map<std::string, std::vector<model::ConfigPtr>> by_host;
  for (const auto& [key, config] : *push.configs()) {
    if (key.kind != model::Kind::kVirtualService) continue;
    const auto& spec = config->As<::istio::networking::v1alpha3::VirtualService>();
    bool mesh = spec.gateways().empty();
    for (const auto& g : spec.gateways()) mesh = mesh || g == "mesh";
    if (!mesh) continue;
    std::set<std::string> hosts;
    for (const auto& h : spec.hosts()) hosts.insert(push.ResolveHost(h, key.ns));
    for (const auto& h : hosts) by_host[h].push_back(config);
  }
  google::protobuf::Value out = EmptyObject();
  for (auto& [host, configs] : by_host) {
    if (configs.size() < 2) continue;
    std::stable_sort(configs.begin(), configs.end(), [](const auto& a, const auto& b) {
      return std::tie(a->meta.creation_timestamp, a->key.ns, a->key.name) <
             std::tie(b->meta.creation_timestamp, b->key.ns, b->key.name);
    });
    std::vector<std::string> names;
    for (const auto& c : configs) names.push_back(absl::StrCat(c->key.ns, "/", c->key.name));
    Fields(out)[host] = ProxyPushStatus(absl::StrCat("duplicate domain from virtual services: ",
                                                     absl::StrJoin(names, ", "), " (", names[0],
                                                     " wins where all are visible)"));
  }
  return out;
}

// keel_unsupported_config: what Keel stores but does not turn into xDS, keyed
// "Kind ns/name" (as keel_kube_skipped_objects), so it is never dropped silently.
google::protobuf::Value Unsupported(const model::ConfigMap& configs) {
  google::protobuf::Value out = EmptyObject();
  for (const auto& [key, config] : configs) {
    const model::KindSchema& schema = model::SchemaOf(key.kind);
    std::string message;
    if (!schema.translated) {
      message = absl::StrCat(schema.name, " is not translated by Keel: stored and listed, no xDS built from it");
    } else if (!config->unsupported_fields.empty()) {
      message = absl::StrCat("spec fields Keel does not translate (ignored): ",
                             absl::StrJoin(config->unsupported_fields, ", "));
    } else {
      continue;
    }
    Fields(out)[key.ToString()] = ProxyPushStatus(message);
  }
  return out;
}

// "WHERE: what" as out[WHERE] = {"proxy": "", "message": what} (no ": ": the whole line is both).
void AddWhereWhat(const std::string& entry, google::protobuf::Value* out) {
  const size_t colon = entry.find(": ");
  Fields(*out)[entry.substr(0, colon)] = ProxyPushStatus(colon == std::string::npos ? entry : entry.substr(colon + 2));
}

}  // namespace

http::HttpHandler MakePushStatusHandler(const xds::AdsServer& ads, const model::ConfigStore& store,
                                        std::function<std::vector<std::string>()> config_errors,
                                        std::function<std::vector<std::string>()> other_unsupported) {
  return [&ads, &store, config_errors, other_unsupported](const http::HttpRequest&) {
    model::PushContextPtr push = ads.CurrentPush();
    if (!push) return http::HttpResponse{200, "application/json", "{}\n"};  // istiod: {} before the first push
    google::protobuf::Value out;
    auto& f = Fields(out);
    f["pushVersion"] = StringValue(absl::StrCat(push->version()));

    google::protobuf::Value counts;
    auto& c = Fields(counts);
    std::map<model::Kind, int> kinds;
    for (const auto& [key, config] : *push->configs()) ++kinds[key.kind];
    size_t endpoints = 0;
    for (const auto& service : push->services()) {
      for (const auto& port : service.ports) endpoints += push->Endpoints(service.hostname, port.port).size();
    }
    c["services"] = NumberValue(static_cast<double>(push->services().size()));
    c["endpoints"] = NumberValue(static_cast<double>(endpoints));
    c["virtualServices"] = NumberValue(kinds[model::Kind::kVirtualService]);
    c["destinationRules"] = NumberValue(kinds[model::Kind::kDestinationRule]);
    c["serviceEntries"] = NumberValue(kinds[model::Kind::kServiceEntry]);
    c["gateways"] = NumberValue(kinds[model::Kind::kGateway]);
    c["sidecars"] = NumberValue(kinds[model::Kind::kSidecar]);
    c["configs"] = NumberValue(static_cast<double>(push->configs()->size()));
    c["connectedProxies"] = NumberValue(static_cast<double>(ads.Connections().size()));
    f["counts"] = std::move(counts);

    // istiod's ProxyStatus: only the metrics that have entries.
    auto add = [&f](const char* metric, google::protobuf::Value entries) {
      if (!entries.struct_value().fields().empty()) f[metric] = std::move(entries);
    };
    add("pilot_eds_no_instances", NoInstances(*push));
    add("pilot_vservice_dup_domain", DuplicateDomains(*push));
    // `config_errors`: "FILE#DOC (line N): Kind ns/name: field: problem" from the
    // file source -> keel_invalid_config["FILE#DOC (line N)"]; "kube://Kind ns/name:
    // problem" for an object the Kubernetes source skipped (did not decode or
    // failed validation) -> keel_kube_skipped_objects["Kind ns/name"].
    google::protobuf::Value invalid = EmptyObject();
    google::protobuf::Value skipped = EmptyObject();
    constexpr absl::string_view kKube = "kube://";  // no relative file path starts so
    for (const std::string& error : config_errors ? config_errors() : std::vector<std::string>{}) {
      const bool kube = absl::StartsWith(error, kKube);
      AddWhereWhat(kube ? error.substr(kKube.size()) : error, kube ? &skipped : &invalid);
    }
    add("keel_invalid_config", std::move(invalid));
    add("keel_kube_skipped_objects", std::move(skipped));
    google::protobuf::Value unsupported = Unsupported(*store.Snapshot());
    for (const std::string& entry : other_unsupported ? other_unsupported() : std::vector<std::string>{}) {
      AddWhereWhat(entry, &unsupported);
    }
    add("keel_unsupported_config", std::move(unsupported));
    return JsonResponse(out);
  };
}

}  // namespace keel::pilot::debug
