#include "pilot/model/dependencies.h"

namespace keel::pilot::model {
namespace {
thread_local Dependencies* current = nullptr;
}  // namespace

void Dependencies::Merge(const Dependencies& other) {
  configs.insert(other.configs.begin(), other.configs.end());
  hosts.insert(other.hosts.begin(), other.hosts.end());
  gateways.insert(other.gateways.begin(), other.gateways.end());
  kinds.insert(other.kinds.begin(), other.kinds.end());
  endpoints.insert(other.endpoints.begin(), other.endpoints.end());
}

DependencyRecorder::DependencyRecorder(Dependencies* deps) : deps_(deps), previous_(current) { current = deps; }

DependencyRecorder::~DependencyRecorder() {
  current = previous_;
  if (previous_) previous_->Merge(*deps_);
}

void DependencyRecorder::Config(const ConfigKey& key) {
  if (current) current->configs.insert(key);
}
void DependencyRecorder::Host(Kind kind, absl::string_view host) {
  if (current) current->hosts.emplace(HostClass(kind), std::string(host));
}
void DependencyRecorder::Gateway(absl::string_view gateway) {
  if (current) current->gateways.emplace(gateway);
}
void DependencyRecorder::AllOfKind(Kind kind) {
  if (current) current->kinds.insert(HostClass(kind));
}
void DependencyRecorder::EndpointsOf(absl::string_view host) {
  if (current) current->endpoints.emplace(host);
}

}  // namespace keel::pilot::model
