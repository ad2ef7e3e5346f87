#include "citadel/ca/root_cert_publisher.h"

#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include <set>

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

// Istio leaves the Kubernetes system namespaces alone (inject.IgnoredNamespaces).
bool Ignored(const std::string& ns) {
  static const std::set<std::string> kIgnored = {"kube-system", "kube-public", "kube-node-lease",
                                                 "local-path-storage"};
  return kIgnored.count(ns) > 0;
}

}  // namespace

RootCertPublisher::RootCertPublisher(kube::KubeClient* client, std::function<std::string()> roots,
                                     std::function<bool()> may_write,
                                     std::function<bool(const std::string& ns)> publishes_to,
                                     kube::InformerOptions informer_options)
    : client_(client),
      roots_(std::move(roots)),
      may_write_(std::move(may_write)),
      publishes_to_(std::move(publishes_to)),
      queue_(absl::StrCat("CA: publishing ", kRootCertConfigMap), [this](const std::string& ns) { return Reconcile(ns); }) {
  namespaces_ = std::make_unique<kube::Informer>(
      client_, kube::ResourceRef{"", {"v1"}, "namespaces"},
      [this](std::vector<kube::InformerEvent> events) {
        for (const auto& e : events) {
          queue_.Observe(e.name, e.type != kube::EventType::kDeleted && !BeingDeleted(e.object));
        }
      },
      informer_options);
  configmaps_ = std::make_unique<kube::Informer>(
      client_, kube::ResourceRef{"", {"v1"}, "configmaps", "", absl::StrCat("metadata.name=", kRootCertConfigMap)},
      [this](std::vector<kube::InformerEvent> events) {
        for (const auto& e : events) queue_.Add(e.ns);
      },
      informer_options);
}

RootCertPublisher::~RootCertPublisher() { Stop(); }

void RootCertPublisher::Start() {
  queue_.Start();
  namespaces_->Start();
  configmaps_->Start();
}

void RootCertPublisher::Stop() {
  namespaces_->Stop();
  configmaps_->Stop();
  queue_.Stop();
}

void RootCertPublisher::RefreshAll() { queue_.AddAllKnown(); }

uint64_t RootCertPublisher::writes() const {
  absl::MutexLock lock(&mu_);
  return writes_;
}

absl::Status RootCertPublisher::Reconcile(const std::string& ns) {
  if (!queue_.Known(ns) || Ignored(ns)) return absl::OkStatus();  // gone, or not ours
  if (publishes_to_ && !publishes_to_(ns)) return absl::OkStatus();  // not discovered (istiod's ObjectFilter)
  if (may_write_ && !may_write_()) return absl::OkStatus();  // not the leader: the leader does it
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
    absl::MutexLock lock(&mu_);
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
  absl::MutexLock lock(&mu_);
  ++writes_;
  spdlog::info("CA: repaired {}/{}", ns, kRootCertConfigMap);
  return absl::OkStatus();
}

}  // namespace keel::citadel::ca
