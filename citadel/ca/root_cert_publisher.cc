#include "citadel/ca/root_cert_publisher.h"

#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace keel::citadel::ca {
namespace {

using google::protobuf::Struct;

std::string ConfigMapJson(const std::string& ns, const std::string& roots, const std::string& resource_version) {
  Struct cm;
  auto* f = cm.mutable_fields();
  (*f)["apiVersion"].set_string_value("v1");
  (*f)["kind"].set_string_value("ConfigMap");
  auto* meta = (*f)["metadata"].mutable_struct_value()->mutable_fields();
  (*meta)["name"].set_string_value(kRootCertConfigMap);
  (*meta)["namespace"].set_string_value(ns);
  if (!resource_version.empty()) (*meta)["resourceVersion"].set_string_value(resource_version);
  (*(*meta)["labels"].mutable_struct_value()->mutable_fields())["istio.io/config"].set_string_value("true");
  (*(*f)["data"].mutable_struct_value()->mutable_fields())["root-cert.pem"].set_string_value(roots);
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(cm, &out);
  return out;
}

// A namespace with a deletionTimestamp is Terminating: nothing new may be created in it.
bool BeingDeleted(const Struct& ns) {
  auto meta = ns.fields().find("metadata");
  if (meta == ns.fields().end()) return false;
  const auto& fields = meta->second.struct_value().fields();
  auto ts = fields.find("deletionTimestamp");
  return ts != fields.end() && ts->second.has_string_value() && !ts->second.string_value().empty();
}

constexpr std::chrono::milliseconds kMinRetry{1000};
constexpr std::chrono::milliseconds kMaxRetry{30000};

}  // namespace

RootCertPublisher::RootCertPublisher(kube::KubeClient* client, std::function<std::string()> roots,
                                     std::function<bool()> may_write, kube::InformerOptions informer_options)
    : client_(client), roots_(std::move(roots)), may_write_(std::move(may_write)) {
  namespaces_ = std::make_unique<kube::Informer>(
      client_, kube::ResourceRef{"", {"v1"}, "namespaces"},
      [this](std::vector<kube::InformerEvent> events) {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& e : events) {
          if (e.type == kube::EventType::kDeleted || BeingDeleted(e.object)) {
            known_namespaces_.erase(e.name);
            retry_at_.erase(e.name);
            backoff_.erase(e.name);
          } else {
            known_namespaces_.insert(e.name);
            EnqueueLocked(e.name);
          }
        }
      },
      informer_options);
  configmaps_ = std::make_unique<kube::Informer>(
      client_, kube::ResourceRef{"", {"v1"}, "configmaps", "", absl::StrCat("metadata.name=", kRootCertConfigMap)},
      [this](std::vector<kube::InformerEvent> events) {
        for (const auto& e : events) Enqueue(e.ns);
      },
      informer_options);
}

RootCertPublisher::~RootCertPublisher() { Stop(); }

void RootCertPublisher::Start() {
  worker_ = std::thread([this] { WorkLoop(); });
  namespaces_->Start();
  configmaps_->Start();
}

void RootCertPublisher::Stop() {
  namespaces_->Stop();
  configmaps_->Stop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void RootCertPublisher::RefreshAll() {
  std::set<std::string> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all = known_namespaces_;
  }
  for (const auto& ns : all) Enqueue(ns);
}

uint64_t RootCertPublisher::writes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return writes_;
}

void RootCertPublisher::Enqueue(const std::string& ns) {
  std::lock_guard<std::mutex> lock(mu_);
  EnqueueLocked(ns);
}

void RootCertPublisher::EnqueueLocked(const std::string& ns) {
  if (ns.empty() || !queued_.insert(ns).second) return;
  queue_.push_back(ns);
  cv_.notify_all();
}

void RootCertPublisher::WorkLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    // Move due retries to the queue; sleep until there is work or the next retry is due.
    const auto now = Clock::now();
    auto next_retry = Clock::time_point::max();
    for (auto it = retry_at_.begin(); it != retry_at_.end();) {
      if (it->second <= now) {
        EnqueueLocked(it->first);
        it = retry_at_.erase(it);
      } else {
        next_retry = std::min(next_retry, it->second);
        ++it;
      }
    }
    if (stopping_) return;
    if (queue_.empty()) {
      if (next_retry == Clock::time_point::max()) {
        cv_.wait(lock);
      } else {
        cv_.wait_until(lock, next_retry);
      }
      continue;
    }
    std::string ns = queue_.front();
    queue_.pop_front();
    queued_.erase(ns);
    // Istio leaves the Kubernetes system namespaces alone (inject.IgnoredNamespaces).
    static const std::set<std::string> kIgnored = {"kube-system", "kube-public", "kube-node-lease",
                                                   "local-path-storage"};
    const bool known = known_namespaces_.count(ns) > 0 && !kIgnored.count(ns);
    lock.unlock();
    const bool writer = !may_write_ || may_write_();  // not the leader: the leader does it
    absl::Status st = known && writer ? Reconcile(ns) : absl::OkStatus();
    lock.lock();
    if (st.ok()) {
      backoff_.erase(ns);
      continue;
    }
    if (!known_namespaces_.count(ns)) continue;  // deleted meanwhile
    auto& backoff = backoff_.try_emplace(ns, kMinRetry).first->second;
    spdlog::warn("CA: publishing {} in {}: {}; retrying in {} ms", kRootCertConfigMap, ns, std::string(st.message()),
                 backoff.count());
    retry_at_[ns] = Clock::now() + backoff;
    backoff = std::min(backoff * 2, kMaxRetry);
  }
}

absl::Status RootCertPublisher::Reconcile(const std::string& ns) {
  const std::string roots = roots_();
  if (roots.empty()) return absl::OkStatus();
  const std::string path = absl::StrCat("/api/v1/namespaces/", ns, "/configmaps");
  auto current = client_->Request("GET", absl::StrCat(path, "/", kRootCertConfigMap));
  if (!current.ok()) return current.status();
  if (current->status == 404) {
    auto created = client_->Request("POST", path, ConfigMapJson(ns, roots, ""));
    if (!created.ok()) return created.status();
    if (created->status == 409) return absl::OkStatus();  // someone created it meanwhile: the informer brings it back
    // The namespace is gone or being deleted (istiod skips these too): nothing to publish.
    if (created->status == 404 || (created->status == 403 && absl::StrContains(created->body, "NamespaceTerminating"))) {
      spdlog::debug("CA: not publishing {} in {}: namespace deleted or terminating", kRootCertConfigMap, ns);
      return absl::OkStatus();
    }
    if (created->status != 201) return kube::HttpStatusToStatus(created->status, created->body);
    std::lock_guard<std::mutex> lock(mu_);
    ++writes_;
    spdlog::info("CA: created {}/{}", ns, kRootCertConfigMap);
    return absl::OkStatus();
  }
  if (current->status != 200) return kube::HttpStatusToStatus(current->status, current->body);
  Struct cm;
  if (!google::protobuf::util::JsonStringToMessage(current->body, &cm).ok()) return absl::InternalError("bad JSON");
  const auto& fields = cm.fields();
  std::string have, rv;
  if (auto d = fields.find("data"); d != fields.end()) {
    auto r = d->second.struct_value().fields().find("root-cert.pem");
    if (r != d->second.struct_value().fields().end()) have = r->second.string_value();
  }
  if (auto m = fields.find("metadata"); m != fields.end()) {
    auto r = m->second.struct_value().fields().find("resourceVersion");
    if (r != m->second.struct_value().fields().end()) rv = r->second.string_value();
  }
  if (have == roots) return absl::OkStatus();
  auto updated = client_->Request("PUT", absl::StrCat(path, "/", kRootCertConfigMap), ConfigMapJson(ns, roots, rv));
  if (!updated.ok()) return updated.status();
  if (updated->status == 409) return absl::AbortedError("conflict");  // retried
  if (updated->status != 200) return kube::HttpStatusToStatus(updated->status, updated->body);
  std::lock_guard<std::mutex> lock(mu_);
  ++writes_;
  spdlog::info("CA: repaired {}/{}", ns, kRootCertConfigMap);
  return absl::OkStatus();
}

}  // namespace keel::citadel::ca
