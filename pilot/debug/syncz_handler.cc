#include <algorithm>

#include "pilot/debug/handlers.h"
#include "pilot/debug/json.h"
#include "pilot/xds/resource_types.h"

namespace keel::pilot::debug {
namespace {

// istioctl proxy-status's reading of a type's nonces.
std::string SyncState(const std::string& sent, const std::string& acked) {
  if (sent.empty()) return "NOT SENT";
  if (sent == acked) return "SYNCED";
  if (acked.empty()) return "STALE (Never Acknowledged)";
  return "STALE";
}

}  // namespace

http::HttpHandler MakeSynczHandler(const xds::AdsServer& ads) {
  return [&ads](const http::HttpRequest&) {
    auto connections = ads.Connections();
    std::sort(connections.begin(), connections.end(), [](const auto& a, const auto& b) {
      return std::tie(a.proxy ? a.proxy->id : a.connection_id, a.connection_id) <
             std::tie(b.proxy ? b.proxy->id : b.connection_id, b.connection_id);
    });
    google::protobuf::Value out = EmptyList();
    for (const auto& c : connections) {
      if (!c.proxy) continue;  // istiod lists identified proxies only
      auto& f = Fields(Append(out));
      // Empty fields are left out, as istiod's `json:",omitempty"` does.
      auto set = [&f](const char* key, const std::string& value) {
        if (!value.empty()) f[key] = StringValue(value);
      };
      set("proxy", c.proxy->id);
      set("proxy_type", c.proxy->type == model::ProxyType::kRouter ? "router" : "sidecar");
      set("cluster_id", c.proxy->cluster_id);
      set("istio_version", c.proxy->istio_version);
      for (const auto& [prefix, type] : {std::pair<const char*, const char*>{"cluster", xds::kClusterType},
                                         {"listener", xds::kListenerType},
                                         {"route", xds::kRouteType},
                                         {"endpoint", xds::kEndpointType}}) {
        std::string sent, acked;
        if (auto w = c.watches.find(type); w != c.watches.end()) {
          sent = w->second.nonce_sent;
          acked = w->second.nonce_acked;
        }
        set((std::string(prefix) + "_sent").c_str(), sent);
        set((std::string(prefix) + "_acked").c_str(), acked);
        f[std::string(prefix) + "_status"] = StringValue(SyncState(sent, acked));
      }
    }
    return JsonResponse(out);
  };
}

}  // namespace keel::pilot::debug
