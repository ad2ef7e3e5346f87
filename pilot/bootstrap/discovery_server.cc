#include "pilot/bootstrap/discovery_server.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "pilot/config/file_source.h"
#include "pilot/config/kube_source.h"
#include "pilot/debug/handlers.h"
#include "pilot/model/push_context.h"
#include "pkg/metrics/registry.h"

#include "absl/strings/str_split.h"

namespace keel::pilot::bootstrap {

absl::StatusOr<std::unique_ptr<DiscoveryServer>> DiscoveryServer::Create(const Options& options) {
  std::unique_ptr<DiscoveryServer> server(new DiscoveryServer(options));
  if (!options.config_dir.empty()) {
    auto source = config::FileSource::Create({options.config_dir});
    if (!source.ok()) return source.status();
    server->source_ = std::move(*source);
  } else {
    auto cluster = options.kubeconfig.empty() ? kube::LoadInCluster()
                                              : kube::LoadKubeconfig(options.kubeconfig, options.context);
    if (!cluster.ok()) {
      return absl::InvalidArgumentError(options.kubeconfig.empty()
                                            ? absl::StrCat("no config source: give --config-dir DIR or --kubeconfig "
                                                           "FILE (", cluster.status().message(), ")")
                                            : std::string(cluster.status().message()));
    }
    auto client = kube::CreateKubeClient(*cluster);
    if (!client.ok()) return absl::InvalidArgumentError(client.status().message());
    server->kube_client_ = std::move(*client);
    config::KubeSourceOptions kube_options;
    kube_options.system_namespace = options.system_namespace;
    server->source_ = std::make_unique<config::KubeSource>(server->kube_client_.get(), kube_options);
    spdlog::info("watching the Kubernetes API server at {}", server->kube_client_->server());
  }

  const bool ca_possible = !options.ca_dir.empty() || server->kube_client_;
  if (!options.disable_ca && !ca_possible) {
    spdlog::info("CA off: with --config-dir it needs --ca-dir DIR for its root of trust");
  }
  if (!options.disable_ca && ca_possible) {
    citadel::CitadelOptions ca;
    ca.ca.trust_domain = options.trust_domain;
    ca.ca.key_type = options.ca_key_type == "ecdsa-p256" ? crypto::KeyType::kEcdsaP256 : crypto::KeyType::kRsa2048;
    absl::ParseDuration(options.workload_cert_ttl, &ca.ca.default_ttl);
    absl::ParseDuration(options.max_workload_cert_ttl, &ca.ca.max_ttl);
    ca.ca_dir = options.ca_dir;
    ca.system_namespace = options.system_namespace;
    ca.audiences = absl::StrSplit(options.ca_audience, ',', absl::SkipEmpty());
    ca.serving.dir = options.serving_cert_dir;
    if (ca.serving.dir.empty()) {
      char tmpl[] = "/tmp/keel-serving-XXXXXX";
      if (!mkdtemp(tmpl)) return absl::UnavailableError("cannot create a directory for the serving certificate");
      ca.serving.dir = tmpl;
    }
    const std::string ns = options.system_namespace;
    ca.serving.dns_names = {absl::StrCat("istiod.", ns, ".svc"), absl::StrCat("istiod.", ns, ".svc.", options.domain),
                            absl::StrCat("istiod.", ns), "istiod"};
    auto citadel = citadel::Citadel::Create(ca, server->kube_client_.get());
    if (!citadel.ok()) return absl::InvalidArgumentError(absl::StrCat("CA: ", citadel.status().message()));
    server->citadel_ = std::move(*citadel);
  }

  std::string host;
  int port = 0;
  if (auto st = SplitHostPort(options.monitoring_addr, &host, &port); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--monitoring-addr: ", st.message()));
  }
  auto http_server = http::CreateHttpServer(host, port);
  if (!http_server.ok()) return http_server.status();
  server->http_server_ = std::move(*http_server);

  server->ads_ = std::make_unique<xds::AdsServer>(xds::MakeGenerators());
  DiscoveryServer* self = server.get();
  server->debouncer_ = std::make_unique<xds::Debouncer>(
      xds::DebounceOptions{std::chrono::milliseconds(options.debounce_after_ms),
                           std::chrono::milliseconds(options.debounce_max_ms)},
      [self](const xds::PushRequest& request) { self->PushNow(request); });
  server->store_.SetChangeHandler([self](const std::vector<model::ConfigKey>& changed) {
    xds::PushRequest request;
    request.configs_updated.insert(changed.begin(), changed.end());
    request.reasons["config"] = static_cast<int>(changed.size());
    request.start = std::chrono::steady_clock::now();
    self->debouncer_->Enqueue(std::move(request));
  });
  return server;
}

DiscoveryServer::~DiscoveryServer() { Stop(); }

void DiscoveryServer::PushNow(const xds::PushRequest& request) {
  const auto begin = std::chrono::steady_clock::now();
  model::MeshOptions mesh;
  mesh.domain = options_.domain;
  auto push = model::PushContext::Build(store_.Snapshot(), mesh, ++push_version_);
  ads_->Push(push, request);
  const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin).count();
  spdlog::info("push {}: {} services, {} config changes, {:.1f} ms", push->version(), push->services().size(),
               request.configs_updated.size(), ms);
}

absl::Status DiscoveryServer::Start() {
  if (auto st = source_->Start([this](const std::vector<model::ConfigEvent>& events) { store_.Apply(events); });
      !st.ok()) {
    return st;
  }
  // The first push waits for a complete view (istiod waits for its caches too).
  const auto sync_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options_.sync_timeout_s);
  while (!source_->HasSynced() && std::chrono::steady_clock::now() < sync_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!source_->HasSynced()) spdlog::warn("config not synced after {} s; serving what is known", options_.sync_timeout_s);
  xds::PushRequest initial;
  initial.reasons["startup"] = 1;
  initial.start = std::chrono::steady_clock::now();
  PushNow(initial);  // serve a complete view from the first connection on

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.grpc_addr, grpc::InsecureServerCredentials(), &grpc_port_);
  builder.RegisterService(ads_.get());
  if (citadel_) {
    // istiod serves the CA on the plaintext port too; the TLS port carries both.
    builder.RegisterService(citadel_->service());
    if (options_.secure_grpc_addr != "off") {
      builder.AddListeningPort(options_.secure_grpc_addr, citadel_->ServingCredentials(), &secure_grpc_port_);
    }
  }
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 100000);
  grpc_server_ = builder.BuildAndStart();
  if (!grpc_server_ || grpc_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for xDS on ", options_.grpc_addr));
  }
  if (citadel_ && options_.secure_grpc_addr != "off" && secure_grpc_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for xDS/CA over TLS on ", options_.secure_grpc_addr));
  }
  if (citadel_) {
    citadel_->Start();
    if (secure_grpc_port_) {
      spdlog::info("xDS and CA over TLS listening on {} (port {})", options_.secure_grpc_addr, secure_grpc_port_);
    }
  }

  http_server_->Handle("/ready", debug::MakeReadyHandler([this] { return NotReadyReason(); }));
  http_server_->Handle("/debug/configz", debug::MakeConfigzHandler(store_));
  http_server_->Handle("/debug/config_dump", debug::MakeConfigDumpHandler(*ads_));
  http_server_->Handle("/debug/connections", debug::MakeConnectionsHandler(*ads_));
  http_server_->Handle("/metrics", [](const http::HttpRequest&) {
    return http::HttpResponse{200, "text/plain; version=0.0.4", metrics::DefaultRegistry().Render()};
  });
  if (auto st = http_server_->Start(); !st.ok()) return st;
  spdlog::info("xDS (ADS, plaintext gRPC) listening on {} (port {})", options_.grpc_addr, grpc_port_);
  spdlog::info("monitoring listening on http://{}/ (ready, debug/configz, debug/config_dump?proxyID=...)",
               options_.monitoring_addr);
  return absl::OkStatus();
}

std::string DiscoveryServer::NotReadyReason() const {
  if (!source_->HasSynced()) return "config source not synced";
  if (!ads_->CurrentPush()) return "no push yet";
  return "";
}

void DiscoveryServer::Stop() {
  if (http_server_) http_server_->Stop();
  if (grpc_server_) {
    grpc_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    grpc_server_.reset();
  }
  if (source_) source_->Stop();
  if (citadel_) citadel_->Stop();
  debouncer_.reset();
}

}  // namespace keel::pilot::bootstrap
