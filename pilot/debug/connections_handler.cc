#include "pilot/debug/handlers.h"
#include "pilot/debug/json.h"
#include "pilot/xds/resource_types.h"

namespace keel::pilot::debug {

http::HttpHandler MakeConnectionsHandler(const xds::AdsServer& ads) {
  return [&ads](const http::HttpRequest&) {
    google::protobuf::Value out;
    auto* list = out.mutable_list_value();
    for (const auto& c : ads.Connections()) {
      google::protobuf::Value item;
      auto* f = item.mutable_struct_value()->mutable_fields();
      (*f)["connectionID"] = StringValue(c.connection_id);
      (*f)["peer"] = StringValue(c.peer);
      if (c.proxy) {
        (*f)["proxyID"] = StringValue(c.proxy->id);
        (*f)["namespace"] = StringValue(c.proxy->ns);
        (*f)["proxyless"].set_bool_value(c.proxy->proxyless_grpc);
      }
      google::protobuf::Value types;
      types.mutable_list_value();
      for (const auto& [type, w] : c.watches) *types.mutable_list_value()->add_values() = StringValue(xds::ShortTypeName(type));
      (*f)["watches"] = std::move(types);
      *list->add_values() = std::move(item);
    }
    out.mutable_list_value();
    return JsonResponse(out);
  };
}

}  // namespace keel::pilot::debug
