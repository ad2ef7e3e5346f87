#include "pilot/xds/push_worker.h"

#include <spdlog/spdlog.h>

#include <atomic>

#include "pilot/xds/monitoring.h"

namespace keel::pilot::xds {
namespace {

thread_local bool on_push_worker = false;
std::atomic<uint64_t> off_worker{0};

}  // namespace

bool OnPushWorker() { return on_push_worker; }

ScopedPushWorker::ScopedPushWorker() : was_(on_push_worker) { on_push_worker = true; }
ScopedPushWorker::~ScopedPushWorker() { on_push_worker = was_; }

std::vector<NamedResource> GenerateOnPushWorker(const std::string& type_url, const XdsGenerator& generator,
                                                const model::Proxy& proxy, const model::PushContext& push,
                                                const WatchedResource& watch) {
  monitoring::RecordGeneration(type_url);
  if (!on_push_worker) {
    const uint64_t n = ++off_worker;
    monitoring::RecordGenerationOffWorker();
    if (n <= 10 || n % 1000 == 0) {  // bounded: a regression must not flood the log
      spdlog::error("xDS generation for {} ran off the push workers ({} times so far): a bug", proxy.id, n);
    }
  }
  return generator.Generate(proxy, push, watch);
}

uint64_t GenerationsOffWorker() { return off_worker.load(); }

}  // namespace keel::pilot::xds
