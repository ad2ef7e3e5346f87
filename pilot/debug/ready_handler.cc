#include "pilot/debug/handlers.h"

namespace keel::pilot::debug {

http::HttpHandler MakeReadyHandler(std::function<std::string()> not_ready_reason) {
  return [not_ready_reason](const http::HttpRequest&) {
    std::string reason = not_ready_reason();
    if (!reason.empty()) return http::HttpResponse{503, "text/plain", "not ready: " + reason + "\n"};
    return http::HttpResponse{200, "text/plain", "ready\n"};
  };
}

}  // namespace keel::pilot::debug
