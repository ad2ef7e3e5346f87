#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "pilot/debug/handlers.h"
#include "pilot/debug/json.h"

namespace keel::pilot::debug {

http::HttpHandler MakeListHandler(std::vector<std::string> paths) {
  std::vector<std::string> names;
  for (const auto& p : paths) {
    absl::string_view name = p;
    if (!absl::ConsumePrefix(&name, "/debug/") || name == "list") continue;
    names.emplace_back(name);
  }
  std::sort(names.begin(), names.end());
  return [names](const http::HttpRequest&) { return JsonResponse(StringListValue(names)); };
}

}  // namespace keel::pilot::debug
