// SubscribedNames: the resource names one stream subscribed to for one type,
// as an immutable sorted set that every subscription with the same names shares.
//
// Why: the sidecars of a mesh subscribe to the same names. 1,000 sidecars of a
// 2,000-Service mesh each watch the same 2,000 ClusterLoadAssignments; as one
// std::set per stream that was ~260 KiB per stream. Interned, the 1,000 streams
// hold one copy and a pointer each.
//
// Contract:
// - Values are interned: two SubscribedNames with the same names share one
//   representation while either lives, so == is a pointer compare and a copy is
//   a reference count. The intern table holds no reference: a set is freed with
//   its last holder. Thread-safe (the table has its own lock; a value is immutable).
// - Iteration is in name order, without duplicates.
// - Each set indexes its names by the host of their Istio cluster name
//   (networking::ClusterNameHost), so the watched assignments of changed hosts
//   are found without a scan (NamesOfHosts).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "pilot/model/service.h"

namespace keel::pilot::xds {

class SubscribedNames {
 public:
  using const_iterator = std::vector<std::string>::const_iterator;

  SubscribedNames();  // no names
  // Sorts, drops duplicates and interns.
  explicit SubscribedNames(std::vector<std::string> names);
  SubscribedNames(std::initializer_list<std::string> names)
      : SubscribedNames(std::vector<std::string>(names.begin(), names.end())) {}
  SubscribedNames(const std::set<std::string>& names)  // NOLINT: a set is a subscription
      : SubscribedNames(std::vector<std::string>(names.begin(), names.end())) {}
  template <typename It>
  SubscribedNames(It begin, It end) : SubscribedNames(std::vector<std::string>(begin, end)) {}

  const_iterator begin() const;
  const_iterator end() const;
  size_t size() const;
  bool empty() const { return size() == 0; }
  bool contains(absl::string_view name) const;
  size_t count(absl::string_view name) const { return contains(name) ? 1 : 0; }

  // Whether `names` (any order) are exactly these names, each once; copies
  // nothing (an ACK of EDS repeats every watched cluster: this runs per ACK).
  bool SameAs(std::vector<absl::string_view> names) const;
  // These names with `added` inserted and then `removed` taken out.
  SubscribedNames With(const std::set<std::string>& added, const std::set<std::string>& removed) const;
  // The names whose cluster-name host is in `hosts`.
  SubscribedNames NamesOfHosts(const model::HostSet& hosts) const;

  friend bool operator==(const SubscribedNames& a, const SubscribedNames& b) { return a.data_ == b.data_; }
  friend bool operator!=(const SubscribedNames& a, const SubscribedNames& b) { return a.data_ != b.data_; }

  // Distinct sets alive now (for tests and /metrics).
  static size_t InternedCount();

 private:
  struct Data;
  explicit SubscribedNames(std::shared_ptr<const Data> data) : data_(std::move(data)) {}
  std::shared_ptr<const Data> data_;
};

}  // namespace keel::pilot::xds
