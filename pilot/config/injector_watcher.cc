#include "pilot/config/injector_watcher.h"

#include "absl/strings/str_cat.h"
#include "keel/k8s/v1/objects.pb.h"
#include "pilot/inject/injector_values.h"

namespace keel::pilot::config {
namespace {

absl::Status ApplyData(const std::string& values, const std::string& config, inject::InjectionConfig& out) {
  if (!values.empty()) {
    if (auto st = inject::ApplyInjectorValues(values, out); !st.ok()) return st;
  }
  if (!config.empty()) {
    if (auto st = inject::ApplyInjectorConfig(config, out); !st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace

InjectorWatcher::InjectorWatcher(model::ConfigKey configmap) : key_(std::move(configmap)) {}

inject::InjectionConfig InjectorWatcher::Apply(const model::ConfigPtr& object, inject::InjectionConfig base) {
  std::shared_ptr<const Data> data;
  {
    absl::MutexLock lock(&mu_);
    if (object != last_seen_) {
      last_seen_ = object;
      if (!object) {
        good_ = nullptr;
        error_.clear();
      } else {
        auto next = std::make_shared<Data>();
        const auto& keys = object->As<k8s::v1::ConfigMap>().data();
        if (auto it = keys.find("values"); it != keys.end()) next->values = it->second;
        if (auto it = keys.find("config"); it != keys.end()) next->config = it->second;
        inject::InjectionConfig trial = base;
        if (auto st = ApplyData(next->values, next->config, trial); !st.ok()) {
          error_ = absl::StrCat(st.message(), " (the previous injector configuration stays in force)");
        } else {
          error_.clear();
          good_ = std::move(next);
        }
      }
    }
    data = good_;
  }
  // A good ConfigMap applies over any base: its errors are of its own text.
  if (data) ApplyData(data->values, data->config, base).IgnoreError();
  return base;
}

std::string InjectorWatcher::Error() const {
  absl::MutexLock lock(&mu_);
  return error_;
}

}  // namespace keel::pilot::config
