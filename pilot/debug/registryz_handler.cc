#include "pilot/debug/handlers.h"
#include "pilot/debug/json.h"
#include "pilot/debug/model_json.h"

namespace keel::pilot::debug {

http::HttpHandler MakeRegistryzHandler(const xds::AdsServer& ads) {
  return [&ads](const http::HttpRequest&) {
    google::protobuf::Value out = EmptyList();
    if (model::PushContextPtr push = ads.CurrentPush()) {
      for (const auto& service : push->services()) {
        if (push->ServiceForHost(service.hostname) != &service) continue;  // shadowed by an earlier one
        Append(out) = ServiceValue(service, *push);
      }
    }
    return JsonResponse(out);
  };
}

}  // namespace keel::pilot::debug
