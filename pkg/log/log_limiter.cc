#include "pkg/log/log_limiter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace keel::log {

LogLimiter::LogLimiter(double per_second, int burst) : per_second_(per_second), burst_(burst), tokens_(burst) {}

std::optional<uint64_t> LogLimiter::Allow() { return Allow(std::chrono::steady_clock::now()); }

std::optional<uint64_t> LogLimiter::Allow(std::chrono::steady_clock::time_point now) {
  absl::MutexLock lock(&mu_);
  if (last_ && now > *last_) {
    tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - *last_).count() * per_second_);
  }
  if (!last_ || now > *last_) last_ = now;
  if (tokens_ < 1) {
    ++dropped_;
    return std::nullopt;
  }
  tokens_ -= 1;
  const uint64_t dropped = dropped_;
  dropped_ = 0;
  return dropped;
}

std::string Suppressed(uint64_t dropped) {
  return dropped == 0 ? "" : absl::StrCat(" (", dropped, " similar lines suppressed)");
}

}  // namespace keel::log
