// A small Prometheus metrics registry: counters, gauges and histograms with
// labels, rendered in the text exposition format (version 0.0.4).
// Metric objects live as long as the registry, unless Remove()d; hot paths keep
// references to series they never remove.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace keel::metrics {

using Labels = std::map<std::string, std::string>;

class Counter {
 public:
  void Inc(double v = 1);
  double value() const;
 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v); }
  void Add(double v);
  double value() const { return value_.load(); }
 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;
 private:
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_ ABSL_GUARDED_BY(mu_);  // per bucket, last is +Inf
  double sum_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

class Registry {
 public:
  // Returns the metric for (name, labels), creating it (and its family, with
  // `help`) on first use. The same name must always be used with one type.
  Counter& GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& GetGauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& GetHistogram(const std::string& name, const std::string& help, const std::vector<double>& bounds,
                          const Labels& labels = {});

  // Deletes the series (name, labels) of any type; the family stays (its HELP
  // and TYPE are still rendered). Returns whether it existed. References to the
  // removed series dangle: remove only series that are looked up on each use,
  // under a lock of the caller's that also covers those uses.
  bool Remove(const std::string& name, const Labels& labels);

  // Number of series of family `name` (0 if unknown); for bounds checks.
  size_t SeriesCount(const std::string& name) const;

  // Runs before each Render(), without the registry's lock held, to refresh
  // metrics computed on scrape (process_*). Call before the first Render().
  void AddCollector(std::function<void(Registry&)> collect);

  // Everything, in the Prometheus text format, families sorted by name.
  std::string Render();

 private:
  struct Family {
    std::string type;  // counter, gauge, histogram
    std::string help;
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Gauge>> gauges;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
  };
  Family& FamilyLocked(const std::string& name, const std::string& type, const std::string& help)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void(Registry&)>> collectors_ ABSL_GUARDED_BY(mu_);
};

// The process-wide registry that /metrics renders.
Registry& DefaultRegistry();

}  // namespace keel::metrics
