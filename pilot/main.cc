// keel-discovery: Keel's control plane daemon (Pilot; Citadel to come).
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <string>
#include <vector>

#include "pilot/bootstrap/discovery_server.h"
#include "pilot/bootstrap/options.h"
#include "pkg/log/log.h"

#ifndef KEEL_VERSION
#define KEEL_VERSION "dev"
#endif

int main(int argc, char** argv) {
  using keel::pilot::bootstrap::DiscoveryServer;
  std::vector<std::string> args(argv + 1, argv + argc);
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
  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("received signal {}, shutting down", sig);
  (*server)->Stop();
  return 0;
}
