#include "citadel/citadel.h"

#include <spdlog/spdlog.h>

#include "pkg/metrics/registry.h"

namespace keel::citadel {

absl::StatusOr<std::unique_ptr<Citadel>> Citadel::Create(const CitadelOptions& options, kube::KubeClient* kube) {
  std::unique_ptr<Citadel> c(new Citadel());
  c->options_ = options;
  ca::CaStorePtr store;
  if (!options.ca_dir.empty()) {
    store = ca::MakeDirCaStore(options.ca_dir);
  } else if (kube) {
    store = ca::MakeSecretCaStore(kube, options.system_namespace);
  } else {
    return absl::InvalidArgumentError("the CA needs --ca-dir or a Kubernetes API server for its root of trust");
  }
  ca::WriterGate gate;
  if (kube) {
    kube::LeaderElectionOptions election;
    election.ns = options.system_namespace;
    election.name = kLeaderLease;
    election.identity = options.leader_identity.empty() ? kube::DefaultLeaderIdentity() : options.leader_identity;
    election.lease_duration = options.leader_lease_duration;  // istiod's proportions: 30 s, 15 s, 7.5 s
    election.renew_deadline = options.leader_lease_duration / 2;
    election.retry_period = options.leader_lease_duration / 4;
    Citadel* self = c.get();
    c->elector_ = std::make_unique<kube::LeaderElector>(kube, election,
                                                        [self](bool leading) { self->OnLeadershipChange(leading); });
    c->elector_->Start();
    if (options.ca_dir.empty()) {  // a directory is this process's own; a Secret is shared by the replicas
      gate.may_write = [elector = c->elector_.get()] { return elector->IsLeader(); };
      gate.timeout = 2 * options.leader_lease_duration + absl::Seconds(10);
    }
  }
  c->manager_ = std::make_unique<ca::CaManager>(options.ca, std::move(store), std::move(gate));
  if (auto st = c->manager_->Init(); !st.ok()) return st;
  server::Authenticator* authenticator = options.authenticator;
  if (!authenticator) {
    c->own_authenticator_ = kube ? server::MakeKubeJwtAuthenticator(kube, options.audiences)
                                 : server::MakeRejectingAuthenticator(
                                       "no Kubernetes API server to review tokens (Keel runs with --config-dir)");
    authenticator = c->own_authenticator_.get();
  }
  c->service_ = std::make_unique<server::CaService>(
      &c->manager_->ca(), authenticator,
      options.workload_trust_domain ? options.workload_trust_domain
                                    : [td = options.ca.trust_domain] { return td; });
  auto serving = server::ServingCert::Create(&c->manager_->ca(), options.serving);
  if (!serving.ok()) return serving.status();
  c->serving_ = std::move(*serving);
  if (kube) {
    Citadel* self = c.get();
    auto publisher = std::make_unique<ca::RootCertPublisher>(
        kube, [self] { return self->manager_->ca().RootsPem(); },
        [elector = c->elector_.get()] { return elector->IsLeader(); }, options.publishes_to);
    std::lock_guard<std::mutex> lock(c->mu_);
    c->publisher_ = std::move(publisher);
  }
  c->UpdateRootMetric();
  return c;
}

Citadel::~Citadel() { Stop(); }

void Citadel::RefreshRootCertConfigMaps() {
  std::lock_guard<std::mutex> lock(mu_);
  if (publisher_) publisher_->RefreshAll();
}

void Citadel::Start() {
  if (publisher_) publisher_->Start();
  renewer_ = std::thread([this] { RenewLoop(); });
}

void Citadel::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (service_) service_->Shutdown();  // queued CreateCertificate calls: UNAVAILABLE
  if (renewer_.joinable()) renewer_.join();
  if (elector_) elector_->Stop();  // releases the Lease; the publisher writes no more
  if (publisher_) publisher_->Stop();
}

void Citadel::OnLeadershipChange(bool leading) {
  std::lock_guard<std::mutex> lock(mu_);
  if (leading && publisher_) publisher_->RefreshAll();  // what changed while another replica led
}

void Citadel::UpdateRootMetric() {
  auto bundle = manager_->ca().bundle();
  if (!bundle) return;
  metrics::DefaultRegistry()
      .GetGauge("citadel_server_root_cert_expiry_timestamp",
                "The unix timestamp, in seconds, when Citadel root cert will expire.")
      .Set(static_cast<double>(crypto::NotAfterUnix(bundle->signing_cert())));
}

void Citadel::RenewLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, absl::ToChronoSeconds(options_.rotation_check), [this] { return stopping_; })) {
    lock.unlock();
    auto rotated = manager_->MaybeRotate(absl::Now());
    if (!rotated.ok()) {
      spdlog::error("CA: root rotation: {}", std::string(rotated.status().message()));
    } else if (*rotated) {
      UpdateRootMetric();
      if (publisher_) publisher_->RefreshAll();
      for (const auto& listener : rotation_listeners_) listener();
    }
    lock.lock();
  }
}

}  // namespace keel::citadel
