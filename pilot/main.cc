// keel-discovery: Keel's control plane daemon (Pilot; Citadel to come).
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "pilot/bootstrap/discovery_server.h"
#include "pilot/bootstrap/options.h"
#include "pkg/log/log.h"
#include "pkg/memory/heap_release.h"

#ifndef KEEL_VERSION
#define KEEL_VERSION "dev"
#endif

namespace {

// Every connection costs a descriptor: the soft RLIMIT_NOFILE (often 1024) is
// raised to the hard limit, as Go raises it for istiod.
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    spdlog::warn("cannot raise the open files limit from {} to {}", before, limit.rlim_max);
    return;
  }
  spdlog::info("open files limit raised from {} to {}", before, limit.rlim_max);
}

// Once stopping has begun, the process ends within `bound` whatever hangs.
void ExitAfter(std::chrono::seconds bound) {
  std::thread([bound] {
    std::this_thread::sleep_for(bound);
    spdlog::error("shutdown did not finish within {} s; exiting", bound.count());
    if (auto logger = spdlog::default_logger()) logger->flush();
    _exit(1);
  }).detach();
}

// Free heap beyond this is returned to the OS.
constexpr size_t kReleaseThresholdBytes = 16u << 20;

}  // namespace

int main(int argc, char** argv) {
  using keel::pilot::bootstrap::DiscoveryServer;
  // istiod's PILOT_* variables first, so that flags override them.
  auto env_flags = keel::pilot::bootstrap::FlagsFromIstiodEnv([](const char* name) { return std::getenv(name); });
  if (!env_flags.ok()) {
    std::fprintf(stderr, "keel-discovery: %s\n", std::string(env_flags.status().message()).c_str());
    return 2;
  }
  std::vector<std::string> args = *std::move(env_flags);
  args.insert(args.end(), argv + 1, argv + argc);
  auto options = keel::pilot::bootstrap::ParseOptions(args);
  if (!options.ok()) {
    std::fprintf(stderr, "keel-discovery: %s\n", std::string(options.status().message()).c_str());
    return 2;
  }
  if (options->help) {
    std::fputs(keel::pilot::bootstrap::Usage().c_str(), stdout);
    return 0;
  }
  if (options->version) {
    std::printf("keel-discovery %s\n", KEEL_VERSION);
    return 0;
  }
  if (auto st = keel::log::Setup(options->log_level); !st.ok()) {
    std::fprintf(stderr, "keel-discovery: --log-level: %s\n", std::string(st.message()).c_str());
    return 2;
  }

  RaiseOpenFileLimit();
  // Debian's Abseil is built with absl::Mutex deadlock detection on: every lock
  // of every absl::Mutex (gRPC's included) records itself in a global lock
  // graph, measured at a few percent of the CPU of a push to 1,000 streams. It
  // is a debugging aid: the daemon runs without it; the tests keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Block the stop signals before any thread starts, then wait for one here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto server = DiscoveryServer::Create(*options);
  if (!server.ok()) {
    std::fprintf(stderr, "keel-discovery: %s\n", std::string(server.status().message()).c_str());
    return 2;
  }
  if (auto st = (*server)->Start(); !st.ok()) {
    std::fprintf(stderr, "keel-discovery: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  // While waiting for a stop signal, hand the heap that pushes freed back to the
  // OS (pkg/memory/heap_release.h) once pushes pause: after an interval of 2 s
  // with no push. Measuring and trimming a large heap costs tens of ms of CPU,
  // which a train of endpoint changes should not pay every 2 s.
  int sig = -1;
  const timespec release_interval{2, 0};
  uint64_t pushes_seen = (*server)->pushes();
  while ((sig = sigtimedwait(&stop_signals, nullptr, &release_interval)) < 0) {
    const uint64_t pushes = (*server)->pushes();
    if (pushes != pushes_seen) {
      pushes_seen = pushes;
      continue;
    }
    if (size_t freed = keel::memory::ReleaseFreeHeap(kReleaseThresholdBytes)) {
      spdlog::debug("returned free heap to the OS ({} MiB were free)", freed >> 20);
    }
  }
  spdlog::info("received signal {}, shutting down (streams get {} s to end)", sig, options->drain_timeout_s);
  ExitAfter(std::chrono::seconds(options->drain_timeout_s + 5));
  (*server)->Stop();
  return 0;
}
