// Command-line options of keel-discovery.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pilot/xds/xds_connection.h"

namespace keel::pilot::bootstrap {

struct Options {
  std::string config_dir;                   // --config-dir: serve config from YAML/JSON files
  std::string kubeconfig;                   // --kubeconfig: watch this cluster (else in-cluster)
  std::string context;                      // --context: kubeconfig context (default: current)
  std::string system_namespace = "istio-system";  // --system-namespace
  std::string revision;                     // --revision: the mesh ConfigMap is istio-<revision> (istiod REVISION)
  int sync_timeout_s = 60;                  // --sync-timeout-s: wait this long for the first complete view
  int max_object_bytes = 4 << 20;           // --max-object-bytes: API server objects larger than this are skipped
  std::string grpc_addr = "0.0.0.0:15010";  // --grpc-addr: plaintext xDS
  std::string monitoring_addr = "0.0.0.0:15014";  // --monitoring-addr: /ready, /metrics, /debug/*
  std::string domain = "cluster.local";     // --domain: cluster DNS domain
  std::string log_level = "info";           // --log-level
  int debounce_after_ms = 100;              // --debounce-after-ms (istiod PILOT_DEBOUNCE_AFTER)
  int debounce_max_ms = 1000;               // --debounce-max-ms
  int push_throttle = 0;                    // --push-throttle (istiod PILOT_PUSH_THROTTLE): push worker threads; 0 = cores, at least 2
  int drain_timeout_s = 5;                  // --drain-timeout-s: on SIGTERM, streams get this long, then are cancelled
  int max_connections_per_ip = 2048;        // --max-connections-per-ip: per peer IP on each gRPC port; 0 = no cap
  // --max-subscribed-names (per xDS stream, all types together) and --max-queued-bytes
  // (unsent response bytes per xDS stream): xds::StreamLimits' defaults.
  int max_subscribed_names = static_cast<int>(xds::StreamLimits{}.max_subscribed_names);
  int max_queued_bytes = static_cast<int>(xds::StreamLimits{}.max_queued_bytes);
  bool xds_auth_plaintext = false;          // --xds-auth-plaintext (istiod XDS_AUTH_PLAINTEXT)
  // RequestAuthentication key sets Keel fetches (config/jwks_resolver.h).
  std::string jwks_refresh_interval = "20m";  // --jwks-refresh-interval (istiod PILOT_JWT_PUB_KEY_REFRESH_INTERVAL)
  int jwks_max_entries = 1000;                // --jwks-max-entries: key sets held at once
  // Citadel (the CA).
  std::string secure_grpc_addr = "0.0.0.0:15012";  // --secure-grpc-addr: xDS + CA over TLS; "off" disables
  bool disable_ca = false;                  // --disable-ca
  std::string trust_domain = "cluster.local";  // --trust-domain: MeshConfig trustDomain when the mesh sets none
  std::string ca_key_type = "rsa2048";      // --ca-key-type: rsa2048 | ecdsa-p256
  std::string ca_dir;                       // --ca-dir: CA files (plugged-in or self-signed) in a directory
  std::string ca_audience = "istio-ca";     // --ca-audience: comma-separated token audiences
  std::string workload_cert_ttl = "24h";    // --workload-cert-ttl (istiod DEFAULT_WORKLOAD_CERT_TTL)
  std::string max_workload_cert_ttl = "2160h";  // --max-workload-cert-ttl (istiod MAX_WORKLOAD_CERT_TTL)
  std::string serving_cert_dir;             // --serving-cert-dir: where the TLS port's cert lives (default: a temp dir)
  std::string custom_host;                  // --custom-host: more DNS names for that cert, comma-separated (istiod ISTIOD_CUSTOM_HOST)
  std::string webhook_addr = "0.0.0.0:15017";  // --webhook-addr: HTTPS admission webhooks (/inject); "off" disables
  // --injection-webhook-config-name (istiod INJECTION_WEBHOOK_CONFIG_NAME): "" turns off patching
  // the caBundle of the injector's MutatingWebhookConfigurations (those labelled istio.io/rev=<revision>).
  std::string injection_webhook_config_name = "istio-sidecar-injector";
  std::string leader_lease_duration = "30s";  // --leader-lease-duration: the singleton-work Lease's term
  bool help = false;                        // --help
  bool version = false;                     // --version
};

// Parses argv (without argv[0]). Accepts "--flag value" and "--flag=value".
// Errors: InvalidArgument with a one-line message ("unknown flag --x",
// "--grpc-addr needs a value", "--grpc-addr: want HOST:PORT, got ...").
absl::StatusOr<Options> ParseOptions(const std::vector<std::string>& args);

// istiod's environment variables that keel-discovery has flags for, as those
// flags (to be put before argv's, so a flag given on the command line wins):
// PILOT_DEBOUNCE_AFTER and PILOT_DEBOUNCE_MAX (Go durations) -> --debounce-after-ms /
// --debounce-max-ms, PILOT_PUSH_THROTTLE -> --push-throttle, XDS_AUTH_PLAINTEXT=true
// -> --xds-auth-plaintext, PILOT_JWT_PUB_KEY_REFRESH_INTERVAL -> --jwks-refresh-interval.
// `getenv` returns null for an unset variable. Errors: InvalidArgument naming the
// variable whose value is not what istiod accepts.
absl::StatusOr<std::vector<std::string>> FlagsFromIstiodEnv(const std::function<const char*(const char*)>& getenv);

// The --help text.
std::string Usage();

// The DNS names of the serving certificate (15012, 15017), as istiod's getDNSNames:
// istiod, istiod-remote, istio-pilot and (with a revision other than default)
// istiod-<rev> as <name>.<ns>.svc, istiod's short forms (istiod.<ns>.svc.<domain>,
// istiod.<ns>, istiod), then --custom-host. No duplicates, in that order.
std::vector<std::string> ServingCertDnsNames(const Options& options);

// Splits "HOST:PORT" ("[::1]:15010" for IPv6). Errors: InvalidArgument.
absl::Status SplitHostPort(const std::string& addr, std::string* host, int* port);

}  // namespace keel::pilot::bootstrap
