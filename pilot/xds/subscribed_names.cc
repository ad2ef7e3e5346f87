#include "pilot/xds/subscribed_names.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"
#include "pilot/networking/core/cluster_name.h"

namespace keel::pilot::xds {

struct SubscribedNames::Data {
  std::vector<std::string> names;  // sorted, unique
  size_t hash = 0;                 // of `names`: the intern table's key
  // (cluster-name host, index into names), sorted by host: NamesOfHosts.
  std::vector<std::pair<absl::string_view, size_t>> by_host;
};

namespace {

// Every live set, by content hash. Entries hold no reference: the deleter of
// a set's shared_ptr removes its entry (by address) before freeing it, and a
// lookup that finds an entry whose set is being freed (expired) skips it.
class InternTable {
 public:
  struct Entry {
    const void* address;
    std::weak_ptr<const void> set;
  };

  static InternTable& Get() {
    static InternTable* table = new InternTable;  // never destroyed: sets may outlive statics
    return *table;
  }

  absl::Mutex mu;
  absl::flat_hash_map<size_t, std::vector<Entry>> by_hash ABSL_GUARDED_BY(mu);
};

}  // namespace

SubscribedNames::SubscribedNames() {
  static const auto* empty = new std::shared_ptr<const Data>(std::make_shared<const Data>());
  data_ = *empty;
}

SubscribedNames::SubscribedNames(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  if (names.empty()) {
    *this = SubscribedNames();
    return;
  }
  const size_t hash = absl::HashOf(names);
  InternTable& table = InternTable::Get();
  {
    absl::MutexLock lock(&table.mu);
    auto it = table.by_hash.find(hash);
    if (it != table.by_hash.end()) {
      for (const auto& entry : it->second) {
        auto alive = std::static_pointer_cast<const Data>(entry.set.lock());
        if (alive && alive->names == names) {
          data_ = std::move(alive);
          return;
        }
      }
    }
  }
  auto* data = new Data;
  data->names = std::move(names);
  data->hash = hash;
  for (size_t i = 0; i < data->names.size(); ++i) {
    const absl::string_view host = networking::ClusterNameHost(data->names[i]);
    if (!host.empty()) data->by_host.emplace_back(host, i);
  }
  std::sort(data->by_host.begin(), data->by_host.end());
  std::shared_ptr<const Data> made(data, [](const Data* d) {
    InternTable& t = InternTable::Get();
    {
      absl::MutexLock lock(&t.mu);
      auto it = t.by_hash.find(d->hash);
      if (it != t.by_hash.end()) {
        auto& entries = it->second;
        entries.erase(std::remove_if(entries.begin(), entries.end(),
                                     [d](const InternTable::Entry& e) { return e.address == d; }),
                      entries.end());
        if (entries.empty()) t.by_hash.erase(it);
      }
    }
    delete d;
  });
  absl::MutexLock lock(&table.mu);
  // Another thread may have interned the same names meanwhile: use its set.
  auto& entries = table.by_hash[hash];
  for (const auto& entry : entries) {
    auto alive = std::static_pointer_cast<const Data>(entry.set.lock());
    if (alive && alive->names == made->names) {
      data_ = std::move(alive);
      return;  // `made` is freed on return; its deleter finds no entry of its own
    }
  }
  entries.push_back({made.get(), made});
  data_ = std::move(made);
}

SubscribedNames::const_iterator SubscribedNames::begin() const { return data_->names.begin(); }
SubscribedNames::const_iterator SubscribedNames::end() const { return data_->names.end(); }
size_t SubscribedNames::size() const { return data_->names.size(); }

bool SubscribedNames::contains(absl::string_view name) const {
  return std::binary_search(data_->names.begin(), data_->names.end(), name,
                            [](absl::string_view a, absl::string_view b) { return a < b; });
}

bool SubscribedNames::SameAs(std::vector<absl::string_view> names) const {
  const auto& mine = data_->names;
  if (names.size() != mine.size()) return false;
  if (!std::is_sorted(names.begin(), names.end())) std::sort(names.begin(), names.end());
  // A duplicate in `names` leaves one of mine unmatched: not the same.
  return std::equal(names.begin(), names.end(), mine.begin(),
                    [](absl::string_view a, const std::string& b) { return a == b; });
}

SubscribedNames SubscribedNames::With(const std::set<std::string>& added, const std::set<std::string>& removed) const {
  if (added.empty() && removed.empty()) return *this;
  std::vector<std::string> names;
  names.reserve(data_->names.size() + added.size());
  std::set_union(data_->names.begin(), data_->names.end(), added.begin(), added.end(), std::back_inserter(names));
  names.erase(std::remove_if(names.begin(), names.end(), [&](const std::string& n) { return removed.count(n) > 0; }),
              names.end());
  return SubscribedNames(std::move(names));
}

SubscribedNames SubscribedNames::NamesOfHosts(const model::HostSet& hosts) const {
  std::vector<std::string> out;
  const auto& index = data_->by_host;
  for (const std::string& host : hosts) {
    auto it = std::lower_bound(index.begin(), index.end(), absl::string_view(host),
                               [](const std::pair<absl::string_view, size_t>& e, absl::string_view h) {
                                 return e.first < h;
                               });
    for (; it != index.end() && it->first == host; ++it) out.push_back(data_->names[it->second]);
  }
  return SubscribedNames(std::move(out));
}

size_t SubscribedNames::InternedCount() {
  InternTable& table = InternTable::Get();
  absl::MutexLock lock(&table.mu);
  size_t n = 0;
  for (const auto& [hash, entries] : table.by_hash) n += entries.size();
  return n;
}

}  // namespace keel::pilot::xds
