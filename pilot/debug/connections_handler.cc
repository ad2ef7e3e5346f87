
#include "pilot/debug/clients_json.h"
#include "pilot/debug/handlers.h"
#include "pilot/debug/json.h"
#include "pilot/xds/resource_types.h"

namespace keel::pilot::debug {

http::HttpHandler MakeConnectionsHandler(const xds::AdsServer& ads) {
  return [&ads](const http::HttpRequest&) {
    return ClientsResponse(ads.Connections(), [](const xds::ConnectionSnapshot& c, ClientFields& f) {
      if (c.proxy) {
        f["proxyID"] = StringValue(c.proxy->id);
        f["namespace"] = StringValue(c.proxy->ns);
        f["proxyless"] = BoolValue(c.proxy->proxyless_grpc);
      }
      std::vector<std::string> types;
      for (const auto& [type, w] : c.watches) types.push_back(xds::ShortTypeName(type));
      f["watches"] = StringListValue(types);
    });
  };
}

}  // namespace keel::pilot::debug
