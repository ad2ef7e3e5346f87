#include <algorithm>

#include "pilot/debug/handlers.h"
#include "pilot/debug/json.h"
#include "pilot/xds/resource_types.h"

namespace keel::pilot::debug {

http::HttpHandler MakeConnectionsHandler(const xds::AdsServer& ads) {
  return [&ads](const http::HttpRequest&) {
    auto connections = ads.Connections();
    std::sort(connections.begin(), connections.end(),
              [](const auto& a, const auto& b) { return a.connection_id < b.connection_id; });
    google::protobuf::Value out;
    Fields(out)["totalClients"] = NumberValue(static_cast<double>(connections.size()));
    google::protobuf::Value clients = EmptyList();
    for (const auto& c : connections) {
      auto& f = Fields(Append(clients));
      f["connectionId"] = StringValue(c.connection_id);
      f["connectedAt"] = TimeValue(c.connected_at);
      f["address"] = StringValue(c.peer);
      if (c.proxy) {
        f["proxyID"] = StringValue(c.proxy->id);
        f["namespace"] = StringValue(c.proxy->ns);
        f["proxyless"] = BoolValue(c.proxy->proxyless_grpc);
      }
      std::vector<std::string> types;
      for (const auto& [type, w] : c.watches) types.push_back(xds::ShortTypeName(type));
      f["watches"] = StringListValue(types);
    }
    if (!connections.empty()) Fields(out)["clients"] = std::move(clients);  // omitempty, as istiod
    return JsonResponse(out);
  };
}

}  // namespace keel::pilot::debug
