#include "pilot/debug/clients_json.h"

#include <algorithm>

#include "pilot/debug/json.h"

namespace keel::pilot::debug {

http::HttpResponse ClientsResponse(std::vector<xds::ConnectionSnapshot> connections,
                                   const std::function<void(const xds::ConnectionSnapshot&, ClientFields&)>& add) {
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
    add(c, f);
  }
  if (!connections.empty()) Fields(out)["clients"] = std::move(clients);
  return JsonResponse(out);
}

}  // namespace keel::pilot::debug
