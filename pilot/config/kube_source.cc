#include "pilot/config/kube_source.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "pilot/config/config_parser.h"

namespace keel::pilot::config {
namespace {

const std::vector<std::string> kIstioVersions = {"v1", "v1beta1", "v1alpha3"};

// Secrets Keel never needs: service-account tokens and Helm release records.
constexpr char kSecretFieldSelector[] = "type!=kubernetes.io/service-account-token,type!=helm.sh/release.v1";

}  // namespace

KubeSource::KubeSource(kube::KubeClient* client, KubeSourceOptions options)
    : client_(client), options_(std::move(options)) {
  auto add = [this](model::Kind kind, kube::ResourceRef ref) { watched_.push_back({kind, std::move(ref), nullptr}); };
  add(model::Kind::kNamespace, {"", {"v1"}, "namespaces"});
  add(model::Kind::kService, {"", {"v1"}, "services"});
  add(model::Kind::kPod, {"", {"v1"}, "pods"});
  add(model::Kind::kEndpointSlice, {"discovery.k8s.io", {"v1"}, "endpointslices"});
  add(model::Kind::kSecret, {"", {"v1"}, "secrets", "", kSecretFieldSelector});
  add(model::Kind::kConfigMap, {"", {"v1"}, "configmaps", options_.system_namespace});
  add(model::Kind::kGateway, {"networking.istio.io", kIstioVersions, "gateways"});
  add(model::Kind::kVirtualService, {"networking.istio.io", kIstioVersions, "virtualservices"});
  add(model::Kind::kDestinationRule, {"networking.istio.io", kIstioVersions, "destinationrules"});
  add(model::Kind::kServiceEntry, {"networking.istio.io", kIstioVersions, "serviceentries"});
}

KubeSource::~KubeSource() { Stop(); }

absl::Status KubeSource::Start(EventHandler handler) {
  handler_ = std::move(handler);
  consumer_ = std::thread([this] { ConsumeLoop(); });
  for (auto& w : watched_) {
    Watched* self = &w;
    w.informer = std::make_unique<kube::Informer>(
        client_, w.ref, [this, self](std::vector<kube::InformerEvent> events) { OnInformerEvents(*self, std::move(events)); },
        options_.informer);
    w.informer->Start();
  }
  return absl::OkStatus();
}

bool KubeSource::HasSynced() const {
  for (const auto& w : watched_) {
    if (!w.informer || !(w.informer->HasSynced() || w.informer->NotInstalled())) return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.empty() && applying_ == 0;
}

void KubeSource::Stop() {
  for (auto& w : watched_) {
    if (w.informer) w.informer->Stop();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (consumer_.joinable()) consumer_.join();
}

void KubeSource::OnInformerEvents(const Watched& watched, std::vector<kube::InformerEvent> events) {
  std::vector<model::ConfigEvent> out;
  const std::string kind_name(model::KindName(watched.kind));
  for (auto& e : events) {
    model::ConfigKey key{watched.kind, watched.kind == model::Kind::kNamespace ? "" : e.ns, e.name};
    if (e.type == kube::EventType::kDeleted) {
      out.push_back({key, nullptr});
      continue;
    }
    auto* fields = e.object.mutable_fields();
    (*fields)["kind"].set_string_value(kind_name);
    const std::string& version = watched.informer->served_version();
    (*fields)["apiVersion"].set_string_value(watched.ref.group.empty() ? version
                                                                       : absl::StrCat(watched.ref.group, "/", version));
    auto parsed = ParseConfigObject(e.object, "kube");
    if (!parsed.ok()) {
      // Keep serving the last good version: no event.
      spdlog::error("invalid config from the API server: {}", std::string(parsed.status().message()));
      continue;
    }
    out.push_back({key, *parsed});
  }
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back(std::move(out));
  cv_.notify_all();
}

void KubeSource::ConsumeLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    std::vector<model::ConfigEvent> batch = std::move(queue_.front());
    queue_.pop_front();
    ++applying_;
    lock.unlock();
    if (!batch.empty()) handler_(batch);
    lock.lock();
    --applying_;
  }
}

std::vector<std::pair<std::string, kube::InformerStats>> KubeSource::Stats() const {
  std::vector<std::pair<std::string, kube::InformerStats>> out;
  for (const auto& w : watched_) {
    if (w.informer) out.emplace_back(std::string(model::KindName(w.kind)), w.informer->stats());
  }
  return out;
}

}  // namespace keel::pilot::config
