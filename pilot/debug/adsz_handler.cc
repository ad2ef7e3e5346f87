#include "absl/strings/str_cat.h"
#include "pilot/debug/clients_json.h"
#include "pilot/debug/handlers.h"
#include "pilot/debug/json.h"

namespace keel::pilot::debug {

http::HttpHandler MakeAdszHandler(const xds::AdsServer& ads, std::function<void()> push_all) {
  return [&ads, push_all](const http::HttpRequest& request) {
    if (auto push = request.query.find("push"); push != request.query.end() && !push->second.empty()) {
      push_all();
      return http::HttpResponse{200, "text/plain",
                                absl::StrCat("Pushed to ", ads.Connections().size(), " servers\n")};
    }
    std::vector<xds::ConnectionSnapshot> connections;
    if (auto id = request.query.find("proxyID"); id != request.query.end() && !id->second.empty()) {
      auto connection = ads.ConnectionForProxy(id->second);
      if (!connection.ok()) {
        return ErrorResponse(404, "Proxy not connected to this Pilot instance. It may be connected to another instance.");
      }
      connections.push_back(*std::move(connection));
    } else {
      connections = ads.Connections();
    }
    return ClientsResponse(std::move(connections), [](const xds::ConnectionSnapshot& c, ClientFields& f) {
      if (c.proxy) {
        f["labels"] = StringMapValue(c.proxy->labels);
        if (!c.node_metadata.fields().empty()) f["metadata"].mutable_struct_value()->CopyFrom(c.node_metadata);
      }
      google::protobuf::Value watches = EmptyObject();
      for (const auto& [type, w] : c.watches) {
        Fields(watches)[type] = StringListValue({w.watch.names.begin(), w.watch.names.end()});
      }
      if (!c.watches.empty()) f["watches"] = std::move(watches);
    });
  };
}

}  // namespace keel::pilot::debug
