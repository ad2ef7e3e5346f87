// LogLimiter: bounds how often one log site writes, so what a client can make
// Keel log (a proxy NACKing in a loop, a flood of bad streams) stays small. A
// token bucket: `burst` lines at once, refilled at `per_second`; the lines it
// drops are counted and reported on the next line it lets through. Counting
// what happened is the metrics' job; the log keeps examples.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "spdlog/spdlog.h"

namespace keel::log {

class LogLimiter {
 public:
  // Per log site, for lines a client can cause: 5 a second after a burst of 20.
  LogLimiter() : LogLimiter(5, 20) {}
  LogLimiter(double per_second, int burst);

  // nullopt: drop this line. Otherwise write it, with Suppressed() of the
  // returned count (lines dropped since the last one written). Thread-safe.
  std::optional<uint64_t> Allow();
  std::optional<uint64_t> Allow(std::chrono::steady_clock::time_point now);

 private:
  const double per_second_;
  const double burst_;
  absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);
  std::optional<std::chrono::steady_clock::time_point> last_ ABSL_GUARDED_BY(mu_);
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
};

// "" for 0, else " (N similar lines suppressed)": appended to the line written.
std::string Suppressed(uint64_t dropped);

}  // namespace keel::log

// spdlog::warn(FORMAT, ARGS...) through a LogLimiter of this call site's own
// (the default bucket), the suppressed count appended. FORMAT: a literal.
#define KEEL_WARN_LIMITED(FORMAT, ...)                                                      \
  do {                                                                                       \
    static ::keel::log::LogLimiter keel_site_limiter_;                                       \
    if (auto keel_dropped_ = keel_site_limiter_.Allow()) {                                   \
      spdlog::warn(FORMAT "{}", __VA_ARGS__, ::keel::log::Suppressed(*keel_dropped_));      \
    }                                                                                        \
  } while (0)
