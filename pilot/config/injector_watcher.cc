#include "pilot/config/injector_watcher.h"

#include "absl/strings/str_cat.h"
#include "keel/k8s/v1/objects.pb.h"
#include "pilot/inject/injector_values.h"

namespace keel::pilot::config {

namespace {

// The ConfigMap's `values` then `config` over `out`.
absl::Status ApplyData(const InjectorWatcher::Data& data, inject::InjectionConfig& out) {
  if (auto st = inject::ApplyInjectorValues(data.values, out); !st.ok()) return st;
  return inject::ApplyInjectorConfig(data.config, out);
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
        // Parsed once per object; checked by applying it to this request's base (its
        // errors are of its own text, so it then applies to any base).
        const auto& keys = object->As<k8s::v1::ConfigMap>().data();
        auto text = [&keys](const char* key) {
          auto it = keys.find(key);
          return it == keys.end() ? std::string() : it->second;
        };
        auto values = inject::ParseInjectorKey("values", text("values"));
        auto config = inject::ParseInjectorKey("config", text("config"));
        absl::Status st = !values.ok() ? values.status() : config.status();
        auto next = std::make_shared<Data>();
        if (st.ok()) {
          next->values = *std::move(values);
          next->config = *std::move(config);
          inject::InjectionConfig trial = base;
          st = ApplyData(*next, trial);
        }
        if (!st.ok()) {
          error_ = absl::StrCat(st.message(), " (the previous injector configuration stays in force)");
        } else {
          error_.clear();
          good_ = std::move(next);
        }
      }
    }
    data = good_;
  }
  if (data) ApplyData(*data, base).IgnoreError();  // checked when parsed
  return base;
}

std::string InjectorWatcher::Error() const {
  absl::MutexLock lock(&mu_);
  return error_;
}

}  // namespace keel::pilot::config
