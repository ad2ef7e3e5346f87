#include "pilot/bootstrap/discovery_server.h"

#include "pkg/http/http_get.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "pilot/bootstrap/webhook_server.h"
#include "pilot/config/file_source.h"
#include "pilot/config/kube_source.h"
#include "pilot/config/mesh_watcher.h"
#include "pilot/debug/handlers.h"
#include "pilot/debug/xds_debug_types.h"
#include "pilot/inject/injector_values.h"
#include "pilot/model/endpoint_changes.h"
#include "pilot/model/kind_schema.h"
#include "pilot/model/push_context.h"
#include "pilot/xds/monitoring.h"
#include "pkg/metrics/process_collector.h"
#include "pkg/metrics/registry.h"

#include "absl/strings/str_split.h"

#include <mutex>

namespace keel::pilot::bootstrap {
namespace {

constexpr int kHandshakeTimeoutMs = 10000;

// istiod's words for a change: its push trigger reason (pilot_push_triggers) and
// its inbound update type (pilot_inbound_updates).
struct ChangeKind {
  const char* trigger;
  const char* inbound;
};

ChangeKind ClassifyChange(model::Kind kind, bool deleted) {
  switch (kind) {
    case model::Kind::kService: return {"service", deleted ? "svcdelete" : "svc"};
    case model::Kind::kPod:
    case model::Kind::kEndpointSlice: return {"endpoint", "eds"};
    case model::Kind::kServiceEntry: return {"service", "config"};
    case model::Kind::kNamespace: return {"namespace", "config"};
    case model::Kind::kSecret: return {"secret", "config"};
    default: return {"config", "config"};
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<DiscoveryServer>> DiscoveryServer::Create(const Options& options) {
  std::unique_ptr<DiscoveryServer> server(new DiscoveryServer(options));
  server->mesh_ = std::make_unique<config::MeshWatcher>(
      model::ConfigKey{model::Kind::kConfigMap, options.system_namespace, config::MeshConfigMapName(options.revision)},
      model::DefaultMeshConfig(options.system_namespace, options.trust_domain));
  server->injector_ = std::make_unique<config::InjectorWatcher>(model::ConfigKey{
      model::Kind::kConfigMap, options.system_namespace, inject::InjectorConfigMapName(options.revision)});
  if (!options.config_dir.empty()) {
    auto source = config::FileSource::Create({options.config_dir});
    if (!source.ok()) return source.status();
    server->file_source_ = source->get();
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
    kube_options.informer.metrics = &metrics::DefaultRegistry();
    kube_options.informer.max_object_bytes = static_cast<size_t>(options.max_object_bytes);
    auto kube_source = std::make_unique<config::KubeSource>(server->kube_client_.get(), kube_options);
    server->kube_source_ = kube_source.get();
    server->source_ = std::move(kube_source);
    spdlog::info("watching the Kubernetes API server at {}", server->kube_client_->server());
    // One reviewer (and one cache of accepted tokens) for the CA, xDS on TLS and
    // /debug: istiod authenticates all three alike, with the same audiences.
    server->token_authenticator_ = citadel::server::MakeKubeJwtAuthenticator(
        server->kube_client_.get(), absl::StrSplit(options.ca_audience, ',', absl::SkipEmpty()));
  }

  const bool ca_possible = !options.ca_dir.empty() || server->kube_client_;
  if (!options.disable_ca && !ca_possible) {
    spdlog::info("CA off: with --config-dir it needs --ca-dir DIR for its root of trust");
  }
  if (!options.disable_ca && ca_possible) {
    citadel::CitadelOptions ca;
    ca.ca.trust_domain = options.trust_domain;
    ca.workload_trust_domain = [mesh = server->mesh_.get()] { return mesh->Current()->trust_domain(); };
    // The namespaces the current push discovers (the CA starts after the first push).
    ca.publishes_to = [self = server.get()](const std::string& ns) {
      const model::PushContextPtr push = self->ads_->CurrentPush();
      return push && push->discovery_namespaces().Selects(ns);
    };
    ca.ca.key_type = options.ca_key_type == "ecdsa-p256" ? crypto::KeyType::kEcdsaP256 : crypto::KeyType::kRsa2048;
    absl::ParseDuration(options.workload_cert_ttl, &ca.ca.default_ttl);
    absl::ParseDuration(options.max_workload_cert_ttl, &ca.ca.max_ttl);
    ca.ca_dir = options.ca_dir;
    ca.system_namespace = options.system_namespace;
    absl::ParseDuration(options.leader_lease_duration, &ca.leader_lease_duration);
    ca.audiences = absl::StrSplit(options.ca_audience, ',', absl::SkipEmpty());
    ca.serving.dir = options.serving_cert_dir;
    if (ca.serving.dir.empty()) {
      char tmpl[] = "/tmp/keel-serving-XXXXXX";
      if (!mkdtemp(tmpl)) return absl::UnavailableError("cannot create a directory for the serving certificate");
      ca.serving.dir = tmpl;
    }
    ca.serving.dns_names = ServingCertDnsNames(options);
    ca.authenticator = server->token_authenticator_.get();
    auto citadel = citadel::Citadel::Create(ca, server->kube_client_.get());
    if (!citadel.ok()) return absl::InvalidArgumentError(absl::StrCat("CA: ", citadel.status().message()));
    server->citadel_ = std::move(*citadel);
  }

  if (options.webhook_addr != "off" && server->citadel_) {
    WebhookServerOptions webhook;
    webhook.addr = options.webhook_addr;
    webhook.cert_chain_path = server->citadel_->serving_cert().cert_chain_path();
    webhook.key_path = server->citadel_->serving_cert().key_path();
    // The flags and the mesh, with ConfigMap istio-sidecar-injector's values and config over them.
    webhook.config = [self = server.get()] {
      return self->injector_->Apply(self->store_.Get(self->injector_->key()),
                                    InjectionConfigFor(self->options_, *self->mesh_->Current()));
    };
    auto webhook_server = CreateWebhookServer(webhook);
    if (!webhook_server.ok()) return webhook_server.status();
    server->webhook_server_ = std::move(*webhook_server);
    if (server->kube_client_ && !options.injection_webhook_config_name.empty()) {
      citadel::Citadel* ca = server->citadel_.get();
      server->webhook_patcher_ = std::make_unique<inject::WebhookCertPatcher>(
          server->kube_client_.get(), options.revision.empty() ? "default" : options.revision,
          [ca] { return ca->ca().RootsPem(); });
      ca->OnRootsRotated([patcher = server->webhook_patcher_.get()] { patcher->RefreshAll(); });
    }
    if (server->kube_client_) {
      // /validate's configurations (istio-validator-*, istiod-default-validator): caBundle, then fail closed.
      citadel::Citadel* ca = server->citadel_.get();
      server->validation_patcher_ = std::make_unique<inject::WebhookCertPatcher>(
          server->kube_client_.get(), options.revision.empty() ? "default" : options.revision,
          [ca] { return ca->ca().RootsPem(); }, kube::InformerOptions{},
          inject::WebhookConfigurationKind::Validator(options.system_namespace));
      ca->OnRootsRotated([patcher = server->validation_patcher_.get()] { patcher->RefreshAll(); });
    }
  } else if (options.webhook_addr != "off") {
    spdlog::info("webhook port off: it serves HTTPS with the CA's serving certificate, and the CA is off");
  }

  std::string host;
  int port = 0;
  if (auto st = SplitHostPort(options.monitoring_addr, &host, &port); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--monitoring-addr: ", st.message()));
  }
  auto http_server = http::CreateHttpServer(host, port);
  if (!http_server.ok()) return http_server.status();
  server->http_server_ = std::move(*http_server);

  // /debug/* from elsewhere than localhost, and xDS on the TLS port, need a token
  // the API server accepts (istiod authenticates both alike: the same audiences);
  // /debug/* then also needs the token's namespace to be the system namespace.
  debug::TokenReviewer reviewer;
  if (server->token_authenticator_) {
    reviewer = [authenticator = server->token_authenticator_.get()](
                   const std::multimap<std::string, std::string>& headers) -> absl::StatusOr<debug::DebugCaller> {
      auto caller = authenticator->Authenticate(headers);
      if (!caller.ok()) return caller.status();
      return debug::DebugCaller{caller->ns, caller->service_account};
    };
  }
  debug::DebugAuthOptions debug_auth_options;
  debug_auth_options.system_namespace = options.system_namespace;  // istiod's remote debug callers: its own namespace
  server->debug_auth_ = std::make_unique<debug::DebugAuth>(std::move(reviewer), debug_auth_options);

  static std::once_flag metrics_once;
  std::call_once(metrics_once, [] {
    xds::monitoring::RegisterMetrics();
    metrics::RegisterProcessCollector(metrics::DefaultRegistry());
  });

  // SDS private keys go to proxies whose service account may list the Secrets of
  // its namespace (istiod's SubjectAccessReview); without a cluster, to none.
  xds::SecretAuthorizer secret_authorizer;
  if (server->kube_client_) {
    server->access_reviewer_ =
        std::make_unique<kube::AccessReviewer>(server->kube_client_.get(), kube::AccessReviewer::Options{});
    secret_authorizer = [reviewer = server->access_reviewer_.get()](const model::ProxyIdentity& identity) {
      return reviewer->Check(kube::ServiceAccountUser(identity.ns, identity.service_account),
                             kube::ResourceAccess{"list", "secrets", identity.ns});
    };
  }
  auto cache = std::make_shared<xds::XdsCache>();
  xds::GeneratorMap generators = xds::MakeGenerators(cache.get(), std::move(secret_authorizer));
  // istioctl's istio.io/debug types read the server's own connections (the lambda runs only once serving).
  for (auto& [type, generator] : debug::MakeXdsDebugGenerators([self = server.get()] { return self->ads_->Connections(); })) {
    generators[type] = std::move(generator);
  }
  server->ads_ = std::make_unique<xds::AdsServer>(
      std::move(generators),
      options.push_throttle > 0 ? options.push_throttle : xds::AdsServer::DefaultPushWorkers(), cache);
  server->ads_->SetStreamLimits(xds::StreamLimits{static_cast<size_t>(options.max_subscribed_names),
                                                  static_cast<size_t>(options.max_queued_bytes)});
  if (options.xds_auth_plaintext && !server->token_authenticator_) {
    return absl::InvalidArgumentError("--xds-auth-plaintext needs a cluster to review tokens (not --config-dir)");
  }
  if (server->token_authenticator_) {
    server->ads_->RequireAuthentication(
        [authenticator = server->token_authenticator_.get()](const std::multimap<std::string, std::string>& metadata)
            -> absl::StatusOr<model::ProxyIdentity> {
          auto caller = authenticator->Authenticate(metadata);
          if (!caller.ok()) return caller.status();
          return model::ProxyIdentity{caller->ns, caller->service_account};
        },
        options.xds_auth_plaintext ? xds::AdsServer::AuthenticatedPorts::kAll : xds::AdsServer::AuthenticatedPorts::kTls);
  }
  DiscoveryServer* self = server.get();
  config::JwksResolverOptions jwks;
  absl::ParseDuration(options.jwks_refresh_interval, &jwks.refresh_interval);
  jwks.max_entries = options.jwks_max_entries;
  server->jwks_ = std::make_shared<config::JwksResolver>(
      jwks,
      [](const std::string& url, absl::Duration timeout, size_t max_bytes) {
        return http::HttpGet(url, {timeout, max_bytes});
      },
      // A key set changed: a full push of whatever the RequestAuthentications built.
      [self] {
        xds::PushRequest request;
        const model::ConfigSnapshot snapshot = self->store_.Snapshot();
        for (auto it = snapshot->lower_bound({model::Kind::kRequestAuthentication, "", ""});
             it != snapshot->end() && it->first.kind == model::Kind::kRequestAuthentication; ++it) {
          request.configs_updated.insert(it->first);
        }
        if (request.configs_updated.empty()) return;
        request.reasons["jwks"] = 1;
        request.start = std::chrono::steady_clock::now();
        self->debouncer_->Enqueue(std::move(request));
      });
  server->debouncer_ = std::make_unique<xds::Debouncer>(
      xds::DebounceOptions{std::chrono::milliseconds(options.debounce_after_ms),
                           std::chrono::milliseconds(options.debounce_max_ms)},
      [self](const xds::PushRequest& request) { self->PushNow(request); });
  server->store_.SetChangeHandler([self](const std::vector<model::ConfigKey>& changed) {
    xds::PushRequest request;
    // Kinds Keel stores but builds nothing from (translated: false in kinds.yaml)
    // push nothing; of the ConfigMaps, only the mesh config is read. A mesh change
    // can alter every resource: istiod's "global" push, every cache entry dropped.
    // Objects of namespaces discoverySelectors leave out push nothing (a Namespace
    // does: its labels may select it now).
    const model::PushContextPtr current = self->ads_->CurrentPush();
    for (const auto& key : changed) {
      if (key == self->mesh_->key()) {
        request.forced = true;
        request.reasons["global"] = 1;
      } else if (model::SchemaOf(key.kind).translated && key.kind != model::Kind::kConfigMap &&
                 (!current || key.kind == model::Kind::kNamespace || current->discovery_namespaces().Selects(key))) {
        request.configs_updated.insert(key);
      }
    }
    if (request.configs_updated.empty() && !request.forced) return;
    // Pods and EndpointSlices alone move endpoints only: an EDS push, unless PushNow finds otherwise.
    request.full = request.forced;
    for (const auto& key : request.configs_updated) {
      if (!model::IsEndpointKind(key.kind)) request.full = true;
      const ChangeKind kind = ClassifyChange(key.kind, /*deleted=*/!self->store_.Get(key));
      ++request.reasons[kind.trigger];
      xds::monitoring::RecordInboundUpdate(kind.inbound);
    }
    request.start = std::chrono::steady_clock::now();
    self->debouncer_->Enqueue(std::move(request));
  });
  return server;
}

DiscoveryServer::~DiscoveryServer() { Stop(); }

void DiscoveryServer::PushNow(const xds::PushRequest& merged) {
  const auto begin = std::chrono::steady_clock::now();
  xds::PushRequest request = merged;
  const model::PushContextPtr previous = ads_->CurrentPush();
  model::ConfigSnapshot snapshot = store_.Snapshot();
  model::PushContextPtr push;
  bool refresh_root_certs = false;
  const bool incremental = !request.full && previous;
  if (incremental) {
    // Endpoints only: the previous PushContext with the touched hosts' endpoints recomputed.
    request.endpoints_updated = model::HostsWithEndpointChanges(*previous, *snapshot, request.configs_updated);
    push = model::PushContext::UpdateEndpoints(*previous, std::move(snapshot), request.endpoints_updated,
                                               ++push_version_);
    request.full = NeedsFullPush(*previous, *push, request.endpoints_updated);
  } else {
    model::MeshOptions mesh;
    mesh.domain = options_.domain;
    mesh.config = mesh_->Update(*snapshot);
    mesh.jwks = jwks_;
    push = model::PushContext::Build(std::move(snapshot), mesh, ++push_version_);
    request.full = true;
    // After ads_ holds the new push, which the publisher's publishes_to reads.
    refresh_root_certs =
        previous && citadel_ && push->discovery_namespaces() != previous->discovery_namespaces();
    if (previous) {
      request.endpoints_updated = model::HostsWithEndpointChanges(*previous, *push->configs(), request.configs_updated);
      for (const model::PushContext* p : {previous.get(), push.get()}) {
        for (const auto& svc : p->services()) {
          if (request.configs_updated.count(svc.source)) request.endpoints_updated.insert(svc.hostname);
        }
      }
    }
  }
  xds::monitoring::RecordPushContextBuild(/*full=*/!incremental);
  xds::monitoring::RecordPushContextInit(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count());
  ads_->Push(push, request);
  if (refresh_root_certs) citadel_->RefreshRootCertConfigMaps();
  const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin).count();
  spdlog::info("push {} ({}{}): {} services, {} config changes, {} hosts' endpoints, {:.1f} ms queued", push->version(),
               incremental ? "endpoints rebuilt" : "full rebuild", request.full ? ", full push" : ", EDS push",
               push->services().size(), request.configs_updated.size(), request.endpoints_updated.size(), ms);
}

bool DiscoveryServer::NeedsFullPush(const model::PushContext& before, const model::PushContext& after,
                                    const model::HostSet& hosts) {
  for (const auto& host : hosts) {
    // A headless service's listeners are one per endpoint (sidecar outbound_listener_builder).
    const model::Service* svc = after.ServiceForHost(host);
    if (svc && svc->resolution == model::Resolution::kPassthrough) return true;
  }
  // Clusters carry the endpoints' service accounts as SANs (sidecar envoy_cluster_builder).
  return model::EndpointServiceAccounts(before, hosts) != model::EndpointServiceAccounts(after, hosts);
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
  initial.reasons["global"] = 1;  // istiod's reason for a push of everything
  initial.start = std::chrono::steady_clock::now();
  PushNow(initial);  // serve a complete view from the first connection on

  // Keel accepts for gRPC (pkg/grpc/guarded_listener.h): gRPC 1.51's own
  // listener stops for good on EMFILE, and has no per-peer cap.
  // keel_grpc_connections_refused_total{listener}: connections closed over --max-connections-per-ip.
  auto refused = [](const std::string& addr) {
    metrics::Counter* counter = &metrics::DefaultRegistry().GetCounter(
        "keel_grpc_connections_refused_total",
        "Connections to a gRPC port closed at once: their peer IP held --max-connections-per-ip already.",
        {{"listener", addr}});
    return [counter] { counter->Inc(); };
  };
  auto plain = grpcutil::GuardedListener::Listen(
      {options_.grpc_addr, options_.max_connections_per_ip, refused(options_.grpc_addr)});
  if (!plain.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot listen for xDS on ", options_.grpc_addr, ": ",
                                               plain.status().message()));
  }
  const bool tls = citadel_ && options_.secure_grpc_addr != "off";
  std::unique_ptr<grpcutil::GuardedListener> secure;
  if (tls) {
    auto listener = grpcutil::GuardedListener::Listen(
        {options_.secure_grpc_addr, options_.max_connections_per_ip, refused(options_.secure_grpc_addr)});
    if (!listener.ok()) {
      return absl::UnavailableError(absl::StrCat("cannot listen for xDS/CA over TLS on ", options_.secure_grpc_addr,
                                                 ": ", listener.status().message()));
    }
    secure = std::move(*listener);
  }

  grpc::ServerBuilder builder;
  using ConnectionType = grpc::ServerBuilder::experimental_type::ExternalConnectionType;
  auto plain_acceptor =
      builder.experimental().AddExternalConnectionAcceptor(ConnectionType::FROM_FD, grpc::InsecureServerCredentials());
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> secure_acceptor;
  builder.RegisterService(ads_.get());
  if (tls) {
    // The CA is served on the TLS port only, as istiod's (15012): one gRPC server
    // carries both ports, so the service refuses calls that arrived over
    // plaintext (UNIMPLEMENTED). Without the TLS port it is not registered at all.
    builder.RegisterService(citadel_->service());
    secure_acceptor =
        builder.experimental().AddExternalConnectionAcceptor(ConnectionType::FROM_FD, citadel_->ServingCredentials());
  } else if (citadel_) {
    spdlog::warn("CA not served: --secure-grpc-addr off (it is served over TLS only)");
  }
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 100000);
  // A connection that has not sent its HTTP/2 preface and SETTINGS (after TLS,
  // on 15012) within this is closed: idle sockets do not hold descriptors for
  // gRPC's default 120 s.
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, kHandshakeTimeoutMs);
  grpc_server_ = builder.BuildAndStart();
  if (!grpc_server_) return absl::UnavailableError("cannot start the gRPC server");
  plain_listener_ = std::move(*plain);
  plain_listener_->Start(std::move(plain_acceptor));
  grpc_port_ = plain_listener_->port();
  if (secure) {
    secure_listener_ = std::move(secure);
    secure_listener_->Start(std::move(secure_acceptor));
    secure_grpc_port_ = secure_listener_->port();
  }
  if (citadel_) {
    citadel_->Start();
    if (secure_grpc_port_) {
      spdlog::info("xDS and CA over TLS listening on {} (port {})", options_.secure_grpc_addr, secure_grpc_port_);
    }
  }

  if (webhook_server_) {
    if (auto st = webhook_server_->Start(); !st.ok()) {
      return absl::Status(st.code(), absl::StrCat("webhooks on ", options_.webhook_addr, ": ", st.message()));
    }
    spdlog::info("admission webhooks (HTTPS) listening on {} (port {}; /inject, /validate)", options_.webhook_addr,
                 webhook_server_->port());
  }
  if (webhook_patcher_) webhook_patcher_->Start();
  if (validation_patcher_) validation_patcher_->Start();
  RegisterMonitoringHandlers();
  if (auto st = http_server_->Start(); !st.ok()) return st;
  spdlog::info("xDS (ADS, plaintext gRPC) listening on {} (port {})", options_.grpc_addr, grpc_port_);
  spdlog::info("monitoring listening on http://{}/ (port {}; ready, metrics, debug/list)", options_.monitoring_addr,
               http_server_->port());
  return absl::OkStatus();
}

void DiscoveryServer::RegisterMonitoringHandlers() {
  // Not authenticated, as in istiod: kubelet probes /ready, Prometheus scrapes /metrics.
  http_server_->Handle("/ready", debug::MakeReadyHandler([this] { return NotReadyReason(); }));
  http_server_->Handle("/metrics", [](const http::HttpRequest&) {
    return http::HttpResponse{200, "text/plain; version=0.0.4", metrics::DefaultRegistry().Render()};
  });

  auto push_all = [this] {
    xds::PushRequest request;
    request.forced = true;
    request.reasons["debug"] = 1;
    request.start = std::chrono::steady_clock::now();
    debouncer_->Enqueue(std::move(request));
  };
  // The file source's errors ("FILE#DOC (line N): problem") and the objects the
  // Kubernetes source skips ("kube://Kind ns/name: problem"; push_status_handler.cc
  // lists those under keel_kube_skipped_objects).
  auto config_errors = [this] {
    std::vector<std::string> out = file_source_ ? file_source_->Errors() : std::vector<std::string>{};
    if (std::string error = mesh_->Error(); !error.empty()) {
      out.push_back(absl::StrCat(mesh_->key().ToString(), ": ", error));
    }
    // The injector reads its ConfigMap on requests: read it now, so an error shows before one.
    injector_->Apply(store_.Get(injector_->key()), InjectionConfigFor(options_, *mesh_->Current()));
    if (std::string error = injector_->Error(); !error.empty()) {
      out.push_back(absl::StrCat(injector_->key().ToString(), ": ", error));
    }
    if (kube_source_) {
      for (const auto& skipped : kube_source_->Skipped()) {
        out.push_back(absl::StrCat("kube://", skipped.key.ToString(), ": ", skipped.reason, " (resourceVersion ",
                                   skipped.resource_version, ")"));
      }
    }
    return out;
  };
  const std::vector<std::pair<std::string, http::HttpHandler>> debug_handlers = {
      {"/debug/configz", debug::MakeConfigzHandler(store_)},
      {"/debug/config_dump", debug::MakeConfigDumpHandler(*ads_)},
      {"/debug/connections", debug::MakeConnectionsHandler(*ads_)},
      {"/debug/adsz", debug::MakeAdszHandler(*ads_, push_all)},
      {"/debug/syncz", debug::MakeSynczHandler(*ads_)},
      {"/debug/registryz", debug::MakeRegistryzHandler(*ads_)},
      {"/debug/endpointz", debug::MakeEndpointzHandler(*ads_)},
      {"/debug/push_status", debug::MakePushStatusHandler(*ads_, store_, config_errors, [this] {
         std::string unused = mesh_->Unused();
         return unused.empty() ? std::vector<std::string>{}
                               : std::vector<std::string>{absl::StrCat(mesh_->key().ToString(), ": ", unused)};
       })},
  };
  std::vector<std::string> paths;
  for (const auto& [path, handler] : debug_handlers) {
    http_server_->HandleAsync(path, debug_auth_->Wrap(handler));
    paths.push_back(path);
  }
  http_server_->HandleAsync("/debug/list", debug_auth_->Wrap(debug::MakeListHandler(paths)));
}

std::string DiscoveryServer::NotReadyReason() const {
  if (!source_->HasSynced()) return "config source not synced";
  if (!ads_->CurrentPush()) return "no push yet";
  for (const auto* listener : {plain_listener_.get(), secure_listener_.get()}) {
    if (!listener) continue;
    if (std::string why = listener->NotAcceptingReason(); !why.empty()) {
      return absl::StrCat("the gRPC listener on ", listener->addr(), " is not accepting connections (", why, ")");
    }
  }
  return "";
}

void DiscoveryServer::Stop() {
  if (debug_auth_) debug_auth_->Shutdown();  // answers queued remote debug requests before the listener closes
  if (http_server_) http_server_->Stop();
  if (webhook_patcher_) webhook_patcher_->Stop();
  if (validation_patcher_) validation_patcher_->Stop();
  if (webhook_server_) webhook_server_->Stop();
  // No new connections; then streams get the drain timeout to end, and are
  // cancelled after it (every stream finishes on cancel: xds_stream.h).
  if (plain_listener_) plain_listener_->Stop();
  if (secure_listener_) secure_listener_->Stop();
  if (grpc_server_) {
    grpc_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(options_.drain_timeout_s));
    grpc_server_.reset();
  }
  if (ads_) ads_->StopAuthentication();
  if (ads_) ads_->StopPushes();
  if (source_) source_->Stop();
  if (citadel_) citadel_->Stop();
  if (jwks_) jwks_->Stop();  // its change callback enqueues on the debouncer
  debouncer_.reset();
}

}  // namespace keel::pilot::bootstrap
