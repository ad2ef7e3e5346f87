#include "pilot/model/config_store.h"

#include <google/protobuf/util/message_differencer.h>

namespace keel::pilot::model {
namespace {

bool SameConfig(const Config& a, const Config& b) {
  if (a.meta.resource_version != b.meta.resource_version || a.meta.origin != b.meta.origin ||
      a.meta.labels != b.meta.labels || a.meta.annotations != b.meta.annotations) {
    return false;
  }
  if (a.body == b.body) return true;
  if (!a.body || !b.body) return false;
  return google::protobuf::util::MessageDifferencer::Equals(*a.body, *b.body);
}

}  // namespace

void ConfigStore::SetChangeHandler(ChangeHandler handler) { on_change_ = std::move(handler); }

std::vector<ConfigKey> ConfigStore::Apply(const std::vector<ConfigEvent>& events) {
  std::vector<ConfigKey> changed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& event : events) {
      auto it = configs_->find(event.key);
      bool present = it != configs_->end();
      if (!event.config && !present) continue;
      if (event.config && present && SameConfig(*it->second, *event.config)) continue;
      // Copy on write: a snapshot holder keeps the old map alive and unchanged.
      if (configs_.use_count() > 1) configs_ = std::make_shared<ConfigMap>(*configs_);
      if (event.config) {
        (*configs_)[event.key] = event.config;
      } else {
        configs_->erase(event.key);
      }
      changed.push_back(event.key);
    }
  }
  if (!changed.empty() && on_change_) on_change_(changed);
  return changed;
}

ConfigSnapshot ConfigStore::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return configs_;
}

ConfigPtr ConfigStore::Get(const ConfigKey& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = configs_->find(key);
  return it == configs_->end() ? nullptr : it->second;
}

size_t ConfigStore::Size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return configs_->size();
}

}  // namespace keel::pilot::model
