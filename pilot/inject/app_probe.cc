#include "pilot/inject/app_probe.h"

#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "pilot/inject/names.h"

namespace keel::pilot::inject {
namespace {

// The prober the agent runs instead of the kubelet (istiod's inject.Prober), or
// nothing when the probe is not one the agent takes over.
std::optional<JsonValue> Prober(const JsonObject& probe, const std::map<std::string, double>& named_ports,
                                int status_port, bool is_lifecycle) {
  JsonObject out;
  for (const char* action : {"httpGet", "tcpSocket", "grpc"}) {
    const JsonValue* a = Member(probe, action);
    if (a == nullptr || !a->has_struct_value()) continue;
    if (is_lifecycle && std::string(action) == "grpc") return std::nullopt;
    JsonObject act = a->struct_value();
    if (std::string(action) == "grpc" && Member(act, "service") == nullptr) {
      // Go's corev1.GRPCAction marshals an unset service as null (no omitempty).
      (*act.mutable_fields())["service"].set_null_value(google::protobuf::NULL_VALUE);
    }
    if (std::string(action) != "grpc") {
      const JsonValue* port = Member(act, "port");
      if (port != nullptr && port->kind_case() == JsonValue::kStringValue) {
        auto named = named_ports.find(port->string_value());
        if (named == named_ports.end()) return std::nullopt;  // istiod leaves an unresolvable probe alone
        (*act.mutable_fields())["port"] = Num(named->second);
      } else if (port != nullptr && port->number_value() == status_port) {
        return std::nullopt;  // already rewritten
      }
    }
    (*out.mutable_fields())[action] = Obj(act);
    if (!is_lifecycle) {
      if (const JsonValue* t = Member(probe, "timeoutSeconds"); t != nullptr && t->number_value() != 0) {
        (*out.mutable_fields())["timeoutSeconds"] = *t;
      }
    }
    return Obj(out);
  }
  return std::nullopt;
}

// The probe pointed at the agent: an httpGet on the status port at `path`
// (HTTPS becomes HTTP: the agent calls the app with TLS itself).
JsonValue Rewritten(const JsonObject& probe, const std::string& path, int status_port) {
  JsonObject p = probe;
  JsonObject http = ObjectAt(p, "httpGet");
  if (StringAt(http, "scheme") == "HTTPS") (*http.mutable_fields())["scheme"] = Str("HTTP");
  (*http.mutable_fields())["port"] = Num(status_port);
  (*http.mutable_fields())["path"] = Str(path);
  p.mutable_fields()->erase("tcpSocket");
  p.mutable_fields()->erase("grpc");
  (*p.mutable_fields())["httpGet"] = Obj(http);
  return Obj(p);
}

}  // namespace

std::string RewriteAppProbes(JsonObject& spec, int status_port) {
  JsonObject probers;
  for (const char* list : {"initContainers", "containers"}) {
    auto it = spec.mutable_fields()->find(list);
    if (it == spec.mutable_fields()->end() || !it->second.has_list_value()) continue;
    for (auto& item : *it->second.mutable_list_value()->mutable_values()) {
      if (!item.has_struct_value()) continue;
      JsonObject& c = *item.mutable_struct_value();
      const std::string name = StringAt(c, "name");
      if (name == kProxyContainerName) continue;
      std::map<std::string, double> named_ports;
      for (const auto& port : ListAt(c, "ports").values()) {
        const std::string port_name = StringAt(port.struct_value(), "name");
        if (!port_name.empty()) named_ports[port_name] = port.struct_value().fields().at("containerPort").number_value();
      }
      const std::string base = absl::StrCat("/app-health/", name, "/");
      for (auto [field, path] : {std::pair{"readinessProbe", "readyz"}, {"livenessProbe", "livez"},
                                 {"startupProbe", "startupz"}}) {
        const JsonValue* probe = Member(c, field);
        if (probe == nullptr || !probe->has_struct_value()) continue;
        const std::string url = base + path;
        if (auto prober = Prober(probe->struct_value(), named_ports, status_port, false)) {
          (*probers.mutable_fields())[url] = *prober;
        }
        const JsonObject& p = probe->struct_value();
        if (Member(p, "httpGet") != nullptr || Member(p, "tcpSocket") != nullptr || Member(p, "grpc") != nullptr) {
          (*c.mutable_fields())[field] = Rewritten(p, url, status_port);
        }
      }
      // Lifecycle hooks (preStop/postStart httpGet or tcpSocket): /app-lifecycle/<c>/prestopz|poststartz.
      auto lifecycle = c.mutable_fields()->find("lifecycle");
      if (lifecycle != c.mutable_fields()->end() && lifecycle->second.has_struct_value()) {
        JsonObject& hooks = *lifecycle->second.mutable_struct_value();
        for (auto [field, path] : {std::pair{"preStop", "prestopz"}, {"postStart", "poststartz"}}) {
          const JsonValue* hook = Member(hooks, field);
          if (hook == nullptr || !hook->has_struct_value()) continue;
          const std::string url = absl::StrCat("/app-lifecycle/", name, "/", path);
          const JsonObject& h = hook->struct_value();
          if (auto prober = Prober(h, named_ports, status_port, true)) (*probers.mutable_fields())[url] = *prober;
          if (Member(h, "httpGet") != nullptr || Member(h, "tcpSocket") != nullptr) {
            (*hooks.mutable_fields())[field] = Rewritten(h, url, status_port);
          }
        }
      }
    }
  }
  // The field order of Go's inject.Prober and corev1's HTTPGetAction, TCPSocketAction, GRPCAction.
  static const auto* kGoFieldOrder = new std::vector<std::string>{
      "httpGet", "tcpSocket", "grpc", "timeoutSeconds", "path", "port", "host", "scheme", "httpHeaders", "service"};
  return probers.fields().empty() ? "" : ToJsonInOrder(probers, *kGoFieldOrder);
}

}  // namespace keel::pilot::inject
