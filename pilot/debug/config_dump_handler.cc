#include "pilot/debug/handlers.h"
#include "pilot/debug/json.h"
#include "pilot/debug/secret_redaction.h"
#include "pilot/xds/resource_types.h"

namespace keel::pilot::debug {
namespace {

google::protobuf::Value WatchValue(const xds::WatchState& w) {
  google::protobuf::Value v;
  auto* f = v.mutable_struct_value()->mutable_fields();
  google::protobuf::Value names;
  for (const auto& n : w.watch.names) *names.mutable_list_value()->add_values() = StringValue(n);
  names.mutable_list_value();
  (*f)["subscribed"] = names;
  (*f)["wildcard"].set_bool_value(w.watch.wildcard);
  (*f)["versionSent"] = StringValue(w.version_sent);
  (*f)["nonceSent"] = StringValue(w.nonce_sent);
  (*f)["nonceAcked"] = StringValue(w.nonce_acked);
  (*f)["versionAcked"] = StringValue(w.version_acked);
  (*f)["acked"].set_bool_value(!w.nonce_sent.empty() && w.nonce_sent == w.nonce_acked);
  if (!w.last_nack.empty()) (*f)["lastNack"] = StringValue(w.last_nack);
  google::protobuf::Value resources;
  resources.mutable_list_value();
  for (const auto& r : w.resources_sent) {
    *resources.mutable_list_value()->add_values() = MessageToValue(RedactForDebug(r->any));
  }
  (*f)["resources"] = std::move(resources);
  return v;
}

}  // namespace

http::HttpHandler MakeConfigDumpHandler(const xds::AdsServer& ads) {
  return [&ads](const http::HttpRequest& request) {
    auto id = request.query.find("proxyID");
    if (id == request.query.end() || id->second.empty()) {
      return ErrorResponse(400, "You must provide a proxyID in the query string");
    }
    auto connection = ads.ConnectionForProxy(id->second);
    if (!connection.ok()) return ErrorResponse(404, std::string(connection.status().message()));
    google::protobuf::Value out;
    auto* f = out.mutable_struct_value()->mutable_fields();
    (*f)["proxyID"] = StringValue(id->second);
    (*f)["connectionID"] = StringValue(connection->connection_id);
    google::protobuf::Value xds;
    auto* types = xds.mutable_struct_value()->mutable_fields();
    for (const auto& [type, w] : connection->watches) (*types)[xds::ShortTypeName(type)] = WatchValue(w);
    (*f)["xds"] = std::move(xds);
    return JsonResponse(out);
  };
}

}  // namespace keel::pilot::debug
