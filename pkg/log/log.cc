#include "pkg/log/log.h"

#include <spdlog/spdlog.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace keel::log {

absl::Status Setup(absl::string_view level) {
  spdlog::level::level_enum parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown log level \"", level, "\" (want trace, debug, info, warn, error, off)"));
  }
  spdlog::set_level(parsed);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%fZ\t%^%l%$\t%v", spdlog::pattern_time_type::utc);
  spdlog::flush_on(spdlog::level::info);
  return absl::OkStatus();
}

}  // namespace keel::log
