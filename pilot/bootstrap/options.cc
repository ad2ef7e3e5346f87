#include "pilot/bootstrap/options.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"

namespace keel::pilot::bootstrap {

absl::Status SplitHostPort(const std::string& addr, std::string* host, int* port) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(absl::StrCat("want HOST:PORT, got \"", addr, "\""));
  }
  *host = addr.substr(0, colon);
  if (absl::StartsWith(*host, "[") && absl::EndsWith(*host, "]")) {
    *host = host->substr(1, host->size() - 2);
  } else if (absl::StrContains(*host, ":")) {
    return absl::InvalidArgumentError(absl::StrCat("too many colons in \"", addr, "\" (write IPv6 as [ADDR]:PORT)"));
  }
  if (!absl::SimpleAtoi(addr.substr(colon + 1), port) || *port < 0 || *port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in \"", addr, "\""));
  }
  return absl::OkStatus();
}

std::string Usage() {
  return R"(Usage: keel-discovery [flags]

Keel: a service-mesh control plane (Istio's istiod: Pilot). Serves Envoy v3 xDS.

Flags:
  --config-dir DIR          serve config from the *.yaml, *.yml, *.json files under DIR
                            (watched; the embedded default is examples/bookinfo)
  --kubeconfig FILE         watch the Kubernetes API server of FILE (exec plugins, client
                            certificates and tokens supported); with neither this nor
                            --config-dir, the in-cluster service account is used
  --context NAME            kubeconfig context (default: its current-context)
  --system-namespace NS     Keel's own namespace (default istio-system), where the mesh config
                            (ConfigMap istio, key mesh) is read; also rootNamespace when it sets none
  --revision REV            read ConfigMap istio-REV instead ("" and default: istio)
  --sync-timeout-s N        wait at most N s for the first complete view (default 60)
  --max-object-bytes N      skip (and report) an object from the API server whose JSON (status and
                            managedFields excluded) is larger than N bytes (default 4194304)
  --grpc-addr HOST:PORT     plaintext xDS (ADS) address (default 0.0.0.0:15010)
  --monitoring-addr HOST:PORT
                            HTTP for /ready, /metrics, /debug/* (default 0.0.0.0:15014)
  --domain DOMAIN           cluster DNS domain (default cluster.local)
  --log-level LEVEL         trace, debug, info, warn, error, off (default info)
  --debounce-after-ms N     quiet period before a push (default 100)
  --debounce-max-ms N       longest a change waits for a push (default 1000)
  --push-throttle N         threads that generate and send pushes, at most N connections at once
                            (istiod's PILOT_PUSH_THROTTLE; default 0: the machine's cores, at least 2)
  --drain-timeout-s N       on SIGTERM/SIGINT, open xDS/CA streams get N s to end, then are
                            cancelled; the process exits by N + 5 s whatever hangs (default 5)
  --max-connections-per-ip N
                            connections one peer IP may hold open on each gRPC port; the one
                            past it is closed at once (default 2048; 0: no cap)
  --max-subscribed-names N  resource names one xDS stream may subscribe to, all types together; a
                            request past it closes the stream (RESOURCE_EXHAUSTED; default 100000)
  --max-queued-bytes N      response bytes one xDS stream may have waiting for a slow reader; a
                            response past it closes the stream (RESOURCE_EXHAUSTED; default
                            134217728 = 128 MiB)
  --xds-auth-plaintext      plaintext xDS streams must authenticate too, as on the TLS port
                            (istiod's XDS_AUTH_PLAINTEXT; needs a cluster to review tokens)
  --jwks-refresh-interval D how often RequestAuthentication key sets fetched by Keel (jwksUri or
                            OpenID discovery) are fetched again (istiod's
                            PILOT_JWT_PUB_KEY_REFRESH_INTERVAL; default 20m)
  --jwks-max-entries N      key sets held at once; the least recently used goes first (default 1000)
  --secure-grpc-addr HOST:PORT
                            xDS and the CA (istio.v1.auth.IstioCertificateService) over TLS,
                            serving certificate from Keel's own CA (default 0.0.0.0:15012; off)
  --disable-ca              run no CA (and no TLS port, no webhook port)
  --webhook-addr HOST:PORT  HTTPS admission webhooks: POST /inject, the sidecar injector (serving
                            certificate from Keel's own CA; default 0.0.0.0:15017; off)
  --injection-webhook-config-name NAME
                            keep the caBundle of the injector's MutatingWebhookConfigurations
                            (labelled istio.io/rev=REV or default) equal to the CA's roots, as
                            istiod's INJECTION_WEBHOOK_CONFIG_NAME (default istio-sidecar-injector;
                            "" turns it off)
  --custom-host LIST        more DNS names for the serving certificate, comma-separated (istiod's
                            ISTIOD_CUSTOM_HOST), e.g. the host a webhook configuration's url names
  --trust-domain DOMAIN     SPIFFE trust domain when the mesh config sets no trustDomain
                            (default cluster.local)
  --ca-key-type TYPE        rsa2048 or ecdsa-p256, for a self-signed root (default rsa2048)
  --ca-dir DIR              CA files in DIR: plugged-in (ca-cert.pem, ca-key.pem, cert-chain.pem,
                            root-cert.pem) or a self-signed root created there; default with a
                            cluster: Secrets cacerts / istio-ca-secret in the system namespace
  --ca-audience LIST        token audiences the CA accepts (default istio-ca)
  --workload-cert-ttl D     default certificate lifetime (default 24h)
  --max-workload-cert-ttl D longest lifetime a caller may ask for (default 2160h = 90 days)
  --serving-cert-dir DIR    where the TLS port's key and certificate are kept (default: a temp dir)
  --leader-lease-duration D term of the Lease istio-namespace-controller-election whose holder
                            creates and renews the CA root and writes the root ConfigMaps
                            (default 30s; renewed every D/4)
  --help                    show this help
  --version                 print the version
)";
}

absl::StatusOr<std::vector<std::string>> FlagsFromIstiodEnv(const std::function<const char*(const char*)>& getenv) {
  std::vector<std::string> flags;
  auto duration_ms = [&](const char* env, const char* flag) -> absl::Status {
    const char* v = getenv(env);
    if (!v) return absl::OkStatus();
    absl::Duration d;
    if (!absl::ParseDuration(v, &d) || d < absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat(env, ": want a duration like 100ms, got \"", v, "\""));
    }
    flags.push_back(absl::StrCat(flag, "=", absl::ToInt64Milliseconds(d)));
    return absl::OkStatus();
  };
  if (auto st = duration_ms("PILOT_DEBOUNCE_AFTER", "--debounce-after-ms"); !st.ok()) return st;
  if (auto st = duration_ms("PILOT_DEBOUNCE_MAX", "--debounce-max-ms"); !st.ok()) return st;
  if (const char* v = getenv("PILOT_PUSH_THROTTLE")) flags.push_back(absl::StrCat("--push-throttle=", v));
  if (const char* v = getenv("PILOT_JWT_PUB_KEY_REFRESH_INTERVAL")) {
    flags.push_back(absl::StrCat("--jwks-refresh-interval=", v));
  }
  if (const char* v = getenv("XDS_AUTH_PLAINTEXT")) {
    const std::string b = absl::AsciiStrToLower(v);
    if (b == "true" || b == "1") {
      flags.push_back("--xds-auth-plaintext");
    } else if (b != "false" && b != "0" && !b.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("XDS_AUTH_PLAINTEXT: want true or false, got \"", v, "\""));
    }
  }
  return flags;
}

absl::StatusOr<Options> ParseOptions(const std::vector<std::string>& args) {
  Options o;
  auto int_setter = [](int* target, int min) {
    return [target, min](const std::string& v) -> absl::Status {
      if (!absl::SimpleAtoi(v, target) || *target < min) {
        return absl::InvalidArgumentError(absl::StrCat("want an integer >= ", min, ", got \"", v, "\""));
      }
      return absl::OkStatus();
    };
  };
  // HOST:PORT; with `off_allowed`, also "off" (the port is not served).
  auto addr_setter = [](std::string* target, bool off_allowed = false) {
    return [target, off_allowed](const std::string& v) -> absl::Status {
      if (off_allowed && v == "off") return *target = v, absl::OkStatus();
      std::string host;
      int port;
      if (auto st = SplitHostPort(v, &host, &port); !st.ok()) return st;
      *target = v;
      return absl::OkStatus();
    };
  };
  auto duration_setter = [](std::string* target) {
    return [target](const std::string& v) -> absl::Status {
      absl::Duration d;
      if (!absl::ParseDuration(v, &d) || d <= absl::ZeroDuration()) {
        return absl::InvalidArgumentError(absl::StrCat("want a positive duration like 24h, got \"", v, "\""));
      }
      *target = v;
      return absl::OkStatus();
    };
  };
  auto string_setter = [](std::string* target, bool empty_allowed = false) {
    return [target, empty_allowed](const std::string& v) -> absl::Status {
      if (v.empty() && !empty_allowed) return absl::InvalidArgumentError("must not be empty");
      *target = v;
      return absl::OkStatus();
    };
  };
  const std::map<std::string, std::function<absl::Status(const std::string&)>> valued = {
      {"--config-dir", string_setter(&o.config_dir)},
      {"--kubeconfig", string_setter(&o.kubeconfig)},
      {"--context", string_setter(&o.context)},
      {"--system-namespace", string_setter(&o.system_namespace)},
      {"--sync-timeout-s", int_setter(&o.sync_timeout_s, 0)},
      {"--max-object-bytes", int_setter(&o.max_object_bytes, 1024)},
      {"--grpc-addr", addr_setter(&o.grpc_addr)},
      {"--monitoring-addr", addr_setter(&o.monitoring_addr)},
      {"--domain", string_setter(&o.domain)},
      {"--log-level", string_setter(&o.log_level)},
      {"--debounce-after-ms", int_setter(&o.debounce_after_ms, 0)},
      {"--secure-grpc-addr", addr_setter(&o.secure_grpc_addr, /*off_allowed=*/true)},
      {"--webhook-addr", addr_setter(&o.webhook_addr, /*off_allowed=*/true)},
      {"--custom-host", string_setter(&o.custom_host)},
      {"--injection-webhook-config-name", string_setter(&o.injection_webhook_config_name, /*empty_allowed=*/true)},
      {"--trust-domain", string_setter(&o.trust_domain)},
      {"--revision", string_setter(&o.revision)},
      {"--ca-key-type", [&o](const std::string& v) -> absl::Status {
         if (v != "rsa2048" && v != "ecdsa-p256") return absl::InvalidArgumentError("want rsa2048 or ecdsa-p256");
         o.ca_key_type = v;
         return absl::OkStatus();
       }},
      {"--ca-dir", string_setter(&o.ca_dir)},
      {"--ca-audience", string_setter(&o.ca_audience)},
      {"--workload-cert-ttl", duration_setter(&o.workload_cert_ttl)},
      {"--max-workload-cert-ttl", duration_setter(&o.max_workload_cert_ttl)},
      {"--serving-cert-dir", string_setter(&o.serving_cert_dir)},
      {"--leader-lease-duration", duration_setter(&o.leader_lease_duration)},
      {"--debounce-max-ms", int_setter(&o.debounce_max_ms, 1)},
      {"--push-throttle", int_setter(&o.push_throttle, 0)},
      {"--drain-timeout-s", int_setter(&o.drain_timeout_s, 0)},
      {"--max-connections-per-ip", int_setter(&o.max_connections_per_ip, 0)},
      {"--max-subscribed-names", int_setter(&o.max_subscribed_names, 1)},
      {"--max-queued-bytes", int_setter(&o.max_queued_bytes, 65536)},
      {"--jwks-refresh-interval", duration_setter(&o.jwks_refresh_interval)},
      {"--jwks-max-entries", int_setter(&o.jwks_max_entries, 1)},
  };
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> value;
    if (size_t eq = flag.find('='); absl::StartsWith(flag, "--") && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    if (flag == "--help" || flag == "-h") {
      o.help = true;
      continue;
    }
    if (flag == "--version") {
      o.version = true;
      continue;
    }
    if (flag == "--disable-ca") {
      o.disable_ca = true;
      continue;
    }
    if (flag == "--xds-auth-plaintext") {
      o.xds_auth_plaintext = true;
      continue;
    }
    auto it = valued.find(flag);
    if (it == valued.end()) {
      return absl::InvalidArgumentError(absl::StrCat(absl::StartsWith(flag, "-") ? "unknown flag " : "unexpected argument ",
                                                     flag, " (see --help)"));
    }
    if (!value) {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrCat(flag, " needs a value"));
      value = args[++i];
    }
    if (auto st = it->second(*value); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": ", st.message()));
    }
  }
  if (!o.help && !o.version && !o.disable_ca) {
    absl::Duration def, max;
    absl::ParseDuration(o.workload_cert_ttl, &def);
    absl::ParseDuration(o.max_workload_cert_ttl, &max);
    if (def > max) return absl::InvalidArgumentError("--workload-cert-ttl exceeds --max-workload-cert-ttl");
  }
  if (absl::Duration d; absl::ParseDuration(o.leader_lease_duration, &d) && d < absl::Seconds(1)) {
    return absl::InvalidArgumentError("--leader-lease-duration: want at least 1s (a Lease counts whole seconds)");
  }
  if (!o.config_dir.empty() && !o.kubeconfig.empty()) {
    return absl::InvalidArgumentError("--config-dir and --kubeconfig are exclusive");
  }
  return o;
}

std::vector<std::string> ServingCertDnsNames(const Options& options) {
  const std::string& ns = options.system_namespace;
  std::vector<std::string> names;
  auto add = [&names](std::string name) {
    if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) names.push_back(std::move(name));
  };
  add(absl::StrCat("istiod.", ns, ".svc"));
  add(absl::StrCat("istiod-remote.", ns, ".svc"));
  add(absl::StrCat("istio-pilot.", ns, ".svc"));
  if (!options.revision.empty() && options.revision != "default") add(absl::StrCat("istiod-", options.revision, ".", ns, ".svc"));
  add(absl::StrCat("istiod.", ns, ".svc.", options.domain));
  add(absl::StrCat("istiod.", ns));
  add("istiod");
  for (absl::string_view host : absl::StrSplit(options.custom_host, ',', absl::SkipEmpty())) add(std::string(host));
  return names;
}

}  // namespace keel::pilot::bootstrap
