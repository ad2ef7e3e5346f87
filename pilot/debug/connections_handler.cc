
#include "absl/strings/str_cat.h"
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
        // Who the stream authenticated as (its token's service account); absent on an
        // unauthenticated stream (plaintext without --xds-auth-plaintext).
        if (const auto& id = c.proxy->verified_identity) {
          f["identity"] = StringValue(absl::StrCat("ns/", id->ns, "/sa/", id->service_account));
        }
      }
      std::vector<std::string> types;
      for (const auto& [type, w] : c.watches) types.push_back(xds::ShortTypeName(type));
      f["watches"] = StringListValue(types);
    });
  };
}

}  // namespace keel::pilot::debug
