#include "pilot/config/kube_source.h"

#include <spdlog/spdlog.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "pilot/config/config_parser.h"
#include "pilot/model/kind_schema.h"
#include "pkg/metrics/registry.h"

namespace keel::pilot::config {
namespace {

// A list (first sync or a relist after 410) parses every object through
// transient JSON and protobuf Structs on the informer threads. glibc keeps what
// they freed in its per-thread arenas: measured with 10,000 Pods, 2,000 Services
// and 2,000 EndpointSlices, RSS stayed at 420 MiB with 57 MiB of heap in use, and
// malloc_trim brought it to 116 MiB. So after a batch this large, give it back.
constexpr size_t kTrimAfterBatch = 256;

std::string ResourceVersionOf(const google::protobuf::Struct& object) {
  auto meta = object.fields().find("metadata");
  if (meta == object.fields().end() || !meta->second.has_struct_value()) return "";
  auto rv = meta->second.struct_value().fields().find("resourceVersion");
  return rv == meta->second.struct_value().fields().end() ? "" : rv->second.string_value();
}

void ReleaseFreedMemory() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

}  // namespace

KubeSource::KubeSource(kube::KubeClient* client, KubeSourceOptions options)
    : client_(client), options_(std::move(options)) {
  // One informer per kind of the registry (pilot/model/kinds.yaml). Keel reads the
  // status of the kinds marked keepStatus (fixed schemas); every other status is dropped
  // unread (a CRD's is free-form: any depth, any size).
  for (const model::KindSchema& schema : model::AllKinds()) {
    kube::ResourceRef ref;
    ref.group = std::string(schema.group);
    for (absl::string_view v : schema.versions) ref.versions.emplace_back(v);
    ref.resource = std::string(schema.plural);
    if (schema.system_namespace_only) ref.ns = options_.system_namespace;
    ref.field_selector = std::string(schema.field_selector);
    ref.keep_status = schema.keep_status;
    watched_.push_back({schema.kind, std::move(ref), nullptr});
  }
  if (metrics::Registry* r = options_.informer.metrics) {
    applied_ = &r->GetCounter("keel_kube_applied_events_total",
                              "Object changes from the API server applied to the config store.");
  }
}

KubeSource::~KubeSource() { Stop(); }

absl::Status KubeSource::Start(EventHandler handler) {
  handler_ = std::move(handler);
  consumer_ = std::thread([this] { ConsumeLoop(); });
  for (auto& w : watched_) {
    Watched* self = &w;
    w.informer = std::make_unique<kube::Informer>(
        client_, w.ref, [this, self](std::vector<kube::InformerEvent> events) { OnInformerEvents(*self, std::move(events)); },
        options_.informer, [this, self](const kube::SkippedObject& object) {
          model::ConfigKey key{self->kind, model::SchemaOf(self->kind).cluster_scoped ? "" : object.ns, object.name};
          RecordSkipped(std::move(key), object.resource_version, object.reason);
        });
    w.informer->Start();
  }
  return absl::OkStatus();
}

bool KubeSource::HasSynced() const {
  if (synced_.load()) return true;
  for (const auto& w : watched_) {
    if (!w.informer || !(w.informer->HasSynced() || w.informer->NotInstalled())) return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!queue_.empty() || applying_ != 0) return false;
  synced_ = true;
  return true;
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
    model::ConfigKey key{watched.kind, model::SchemaOf(watched.kind).cluster_scoped ? "" : e.ns, e.name};
    if (e.type == kube::EventType::kDeleted) {
      ClearSkipped(key);
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
      std::string reason(parsed.status().message());
      const std::string prefix = absl::StrCat(key.ToString(), ": ");
      if (absl::StartsWith(reason, prefix)) reason.erase(0, prefix.size());
      RecordSkipped(key, ResourceVersionOf(e.object), reason);
      continue;
    }
    ClearSkipped(key);
    out.push_back({key, *parsed});
  }
  // Free the decoded objects before the consumer can see the batch (it releases
  // freed memory after large batches; see kTrimAfterBatch).
  std::vector<kube::InformerEvent>().swap(events);
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
    const size_t n = batch.size();
    if (n > 0) {
      handler_(batch);
      if (applied_) applied_->Inc(static_cast<double>(n));
    }
    batch.clear();
    lock.lock();
    --applying_;
    if (n >= kTrimAfterBatch) {
      lock.unlock();
      ReleaseFreedMemory();
      lock.lock();
    }
  }
}

void KubeSource::RecordSkipped(model::ConfigKey key, const std::string& resource_version, const std::string& reason) {
  const std::string kind_name(model::KindName(key.kind));
  spdlog::error("invalid config from the API server: {}: {} (resourceVersion {}); skipped, the last good version (if "
                "any) is kept",
                key.ToString(), reason, resource_version);
  if (metrics::Registry* r = options_.informer.metrics) {
    r->GetCounter("keel_kube_invalid_objects_total",
                  "Objects from the API server skipped: they did not decode (too deep, too large) or failed validation.",
                  {{"kind", kind_name}})
        .Inc();
  }
  std::lock_guard<std::mutex> lock(skipped_mu_);
  skipped_[key] = {key, resource_version, reason};
}

void KubeSource::ClearSkipped(const model::ConfigKey& key) {
  std::lock_guard<std::mutex> lock(skipped_mu_);
  skipped_.erase(key);
}

std::vector<SkippedConfig> KubeSource::Skipped() const {
  std::lock_guard<std::mutex> lock(skipped_mu_);
  std::vector<SkippedConfig> out;
  for (const auto& [key, skipped] : skipped_) out.push_back(skipped);
  return out;
}

std::vector<std::pair<std::string, kube::InformerStats>> KubeSource::Stats() const {
  std::vector<std::pair<std::string, kube::InformerStats>> out;
  for (const auto& w : watched_) {
    if (w.informer) out.emplace_back(std::string(model::KindName(w.kind)), w.informer->stats());
  }
  return out;
}

}  // namespace keel::pilot::config
