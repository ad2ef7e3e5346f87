// The process_* metrics every Prometheus client library exports (what
// client_golang's process collector gives istiod), read from /proc on scrape.
#pragma once

#include "pkg/metrics/registry.h"

namespace keel::metrics {

// Adds a collector to `registry` that refreshes, on each Render():
// process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_start_time_seconds, process_open_fds,
// process_max_fds. Linux only; a value /proc cannot give is left as it was.
void RegisterProcessCollector(Registry& registry);

}  // namespace keel::metrics
