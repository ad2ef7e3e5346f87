#include "pilot/bootstrap/webhook_server.h"

#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "pilot/config/validation_webhook.h"
#include "pilot/inject/webhook.h"
#include "pkg/metrics/registry.h"

namespace keel::pilot::bootstrap {
namespace {

// istiod's injection metrics (pkg/kube/inject/monitoring.go).
struct InjectionMetrics {
  metrics::Counter& requests;
  metrics::Counter& success;
  metrics::Counter& skip;
  metrics::Counter& failure;

  static InjectionMetrics& Get() {
    auto& r = metrics::DefaultRegistry();
    static InjectionMetrics* m = new InjectionMetrics{
        r.GetCounter("sidecar_injection_requests_total", "Total number of sidecar injection requests."),
        r.GetCounter("sidecar_injection_success_total", "Total number of successful sidecar injection requests."),
        r.GetCounter("sidecar_injection_skip_total", "Total number of skipped sidecar injection requests."),
        r.GetCounter("sidecar_injection_failure_total", "Total number of failed sidecar injection requests.")};
    return *m;
  }
};

std::string Header(const http::HttpRequest& request, const std::string& name) {
  auto it = request.headers.find(name);
  return it == request.headers.end() ? "" : it->second;
}

// A webhook's reply as the HTTP response: the review JSON, or the reason as text.
http::HttpResponse ToHttp(inject::WebhookReply reply) {
  http::HttpResponse response;
  response.status = reply.http_status;
  response.content_type = reply.http_status == 200 ? "application/json" : "text/plain";
  response.body = std::move(reply.body);
  return response;
}

}  // namespace

absl::StatusOr<http::HttpServerPtr> CreateWebhookServer(const WebhookServerOptions& options) {
  std::string host;
  int port = 0;
  if (auto st = SplitHostPort(options.addr, &host, &port); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--webhook-addr: ", st.message()));
  }
  http::HttpServerOptions http_options;
  http_options.max_body_bytes = 8 << 20;  // a Pod with large annotations; the API server's own object limit is ~3 MiB
  http_options.tls = http::HttpServerOptions::TlsFiles{options.cert_chain_path, options.key_path};
  auto server = http::CreateHttpServer(host, port, http_options);
  if (!server.ok()) return server.status();
  InjectionMetrics::Get();
  auto handler = [config = options.config](const http::HttpRequest& request) {
    InjectionMetrics& m = InjectionMetrics::Get();
    m.requests.Inc();
    inject::InjectionConfig request_config = config();
    request_config.path_envs = inject::InjectionPathEnvs(request.path);
    inject::WebhookReply reply =
        inject::HandleInjectionReview(Header(request, "content-type"), request.body, request_config);
    if (reply.outcome == "injected") {
      m.success.Inc();
      spdlog::debug("inject: {}", reply.outcome);
    } else if (reply.outcome.rfind("skipped", 0) == 0) {
      m.skip.Inc();
      spdlog::debug("inject: {}", reply.outcome);
    } else {
      m.failure.Inc();
      spdlog::warn("inject from {}: {}", request.remote_address, reply.outcome);
    }
    return ToHttp(std::move(reply));
  };
  // istiod's two routes: /inject, and /inject/<key>/<value>... setting proxy env
  // (/inject/cluster/C/net/N, as a remote cluster's webhook configuration names).
  (*server)->HandlePost("/inject", handler);
  (*server)->HandlePost("/inject/", handler);
  // istiod's validation routes, on the same HTTPS listener.
  auto validate = [](const http::HttpRequest& request) {
    inject::WebhookReply reply = config::HandleValidationReview(Header(request, "content-type"), request.body);
    if (reply.outcome != "allowed") spdlog::info("validate from {}: {}", request.remote_address, reply.outcome);
    return ToHttp(std::move(reply));
  };
  (*server)->HandlePost("/validate", validate);
  (*server)->HandlePost("/validate/", validate);
  return server;
}

inject::InjectionConfig InjectionConfigFor(const Options& options, const model::MeshConfig& mesh) {
  inject::InjectionConfig config;
  config.istio_namespace = options.system_namespace;
  config.revision = options.revision;
  config.cluster_domain = options.domain;
  config.trust_domain = mesh.trust_domain().empty() ? options.trust_domain : mesh.trust_domain();
  // The first of --ca-audience is the one istiod's template puts on the token (global.sds.token.aud).
  config.token_audience = options.ca_audience.substr(0, options.ca_audience.find(','));
  if (mesh.has_enable_prometheus_merge()) config.prometheus_merge = mesh.enable_prometheus_merge().value();
  if (mesh.has_default_config()) {
    std::string json;
    if (google::protobuf::util::MessageToJsonString(mesh.default_config(), &json).ok()) {
      config.default_proxy_config_json = json;
    }
  }
  return config;
}

}  // namespace keel::pilot::bootstrap
