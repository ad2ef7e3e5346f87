// Process-wide logging setup (spdlog). Every module logs through spdlog's
// default logger; this only chooses the level and the line format.
#pragma once

#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace keel::log {

// Sets the default logger's level: trace, debug, info, warn, error, off.
// Errors: InvalidArgument naming the unknown level.
absl::Status Setup(absl::string_view level);

}  // namespace keel::log
