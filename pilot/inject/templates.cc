#include "pilot/inject/templates.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "pilot/inject/names.h"

namespace keel::pilot::inject {

std::string Annotation(const Strings& annotations, const std::string& name, const std::string& fallback) {
  auto it = annotations.find(name);
  return it == annotations.end() ? fallback : it->second;
}

std::string FirstNonEmpty(std::initializer_list<std::string> candidates) {
  for (const auto& c : candidates) {
    if (!c.empty()) return c;
  }
  return "";
}

std::string Get(const Strings& map, const std::string& key) {
  auto it = map.find(key);
  return it == map.end() ? "" : it->second;
}

JsonValue Env(const std::string& name, const std::string& value) {
  if (value.empty()) return Obj({{"name", Str(name)}});  // Go's omitempty
  return Obj({{"name", Str(name)}, {"value", Str(value)}});
}

namespace {

JsonValue FieldRefEnv(const std::string& name, const std::string& path) {
  return Obj({{"name", Str(name)}, {"valueFrom", Obj({{"fieldRef", Obj({{"fieldPath", Str(path)}})}})}});
}

JsonValue ResourceRefEnv(const std::string& name, const std::string& resource) {
  return Obj({{"name", Str(name)},
              {"valueFrom", Obj({{"resourceFieldRef", Obj({{"resource", Str(resource)}, {"divisor", Str("1")}})}})}});
}

JsonValue Mount(const std::string& name, const std::string& path) {
  return Obj({{"name", Str(name)}, {"mountPath", Str(path)}});
}

JsonValue EmptyDir(const std::string& name, bool memory = false) {
  return Obj({{"name", Str(name)}, {"emptyDir", memory ? Obj({{"medium", Str("Memory")}}) : Obj(JsonObject())}});
}

// The template's `emptyDir:` (null): a volume with a name only, which the API server
// defaults to an emptyDir.
JsonValue NamedOnly(const std::string& name) { return Obj({{"name", Str(name)}}); }

std::string ImageRef(const InjectionConfig& config, const std::string& image, const Strings& annotations) {
  const std::string chosen = Annotation(annotations, kProxyImage, image);
  if (absl::StrContains(chosen, "/")) return chosen;
  return absl::StrCat(config.hub, "/", chosen, ":", config.tag);
}

// istiod's excludeInboundPort: the status port added to the excluded inbound ports.
std::string ExcludeInboundPort(const std::string& port, const std::string& excluded) {
  const std::string p(absl::StripAsciiWhitespace(port));
  if (p.empty() || p == "0") return excluded;
  std::vector<std::string> out;
  for (absl::string_view e : absl::StrSplit(excluded, ',')) {
    if (absl::StripAsciiWhitespace(e) == p) return excluded;
    if (!absl::StripAsciiWhitespace(e).empty()) out.emplace_back(absl::StripAsciiWhitespace(e));
  }
  out.push_back(p);
  return absl::StrJoin(out, ",");
}

// The sidecar template's "resources" block: the pod's proxy resource annotations when
// any is set, else global.proxy.resources.
JsonValue Resources(const InjectionConfig& config, const Strings& annotations) {
  const bool any = annotations.count(kProxyCpu) || annotations.count(kProxyMemory) ||
                   annotations.count(kProxyCpuLimit) || annotations.count(kProxyMemoryLimit);
  if (!any) return Obj(config.proxy_resources);
  JsonObject out;
  auto add = [&](const char* group, const char* key, const char* name) {
    if (auto it = annotations.find(name); it != annotations.end()) {
      auto& g = *(*out.mutable_fields())[group].mutable_struct_value()->mutable_fields();
      g[key] = Str(it->second);
    }
  };
  add("requests", "cpu", kProxyCpu);
  add("requests", "memory", kProxyMemory);
  add("limits", "cpu", kProxyCpuLimit);
  add("limits", "memory", kProxyMemoryLimit);
  return Obj(out);
}

// ISTIO_META_POD_PORTS: the app containers' ports as the template's structToJSON
// writes them (Go's corev1.ContainerPort field order), one per line.
std::string PodPortsJson(const JsonList& containers) {
  std::vector<std::string> ports;
  for (const auto& c : containers.values()) {
    for (const auto& p : ListAt(c.struct_value(), "ports").values()) {
      const JsonObject& port = p.struct_value();
      std::vector<std::string> fields;
      if (!StringAt(port, "name").empty()) fields.push_back(absl::StrCat("\"name\":", ToJson(Str(StringAt(port, "name")))));
      for (const char* key : {"hostPort", "containerPort"}) {
        if (const JsonValue* v = Member(port, key); v != nullptr && v->number_value() != 0) {
          fields.push_back(absl::StrCat("\"", key, "\":", static_cast<int64_t>(v->number_value())));
        }
      }
      if (!StringAt(port, "protocol").empty()) fields.push_back(absl::StrCat("\"protocol\":", ToJson(Str(StringAt(port, "protocol")))));
      if (!StringAt(port, "hostIP").empty()) fields.push_back(absl::StrCat("\"hostIP\":", ToJson(Str(StringAt(port, "hostIP")))));
      ports.push_back(absl::StrCat("{", absl::StrJoin(fields, ","), "}"));
    }
  }
  std::string out = "[";
  for (size_t i = 0; i < ports.size(); ++i) absl::StrAppend(&out, "\n    ", i == 0 ? "" : ",", ports[i]);
  return out + "\n]";
}

enum class Flavor { kSidecar, kGateway, kGrpcAgent };

// istio-proxy's env, in the template's order. The templates differ in where
// ISTIO_META_APP_CONTAINERS sits; only the sidecar's lets label
// service.istio.io/workload-name name the workload; the grpc-agent's runs the agent
// without Envoy for a gRPC client (no CPU/memory limits or interception mode).
JsonList ProxyEnv(const TemplateInput& in, const InjectionConfig& config, Flavor flavor) {
  const bool sidecar = flavor == Flavor::kSidecar, grpc = flavor == Flavor::kGrpcAgent;
  JsonList env;
  auto add = [&env](JsonValue v) { *env.add_values() = std::move(v); };
  if (grpc) {
    add(Env("ISTIO_META_GENERATOR", "grpc"));
    add(Env("OUTPUT_CERTS", "/var/lib/istio/data"));
  }
  add(Env("PILOT_CERT_PROVIDER", "istiod"));
  add(Env("CA_ADDR", config.ca_address.empty() ? in.istiod : config.ca_address));
  add(FieldRefEnv("POD_NAME", "metadata.name"));
  add(FieldRefEnv("POD_NAMESPACE", "metadata.namespace"));
  add(FieldRefEnv("INSTANCE_IP", "status.podIP"));
  add(FieldRefEnv("SERVICE_ACCOUNT", "spec.serviceAccountName"));
  add(FieldRefEnv("HOST_IP", "status.hostIP"));
  if (!grpc) add(ResourceRefEnv("ISTIO_CPU_LIMIT", "limits.cpu"));
  add(Env("PROXY_CONFIG", in.proxy_config.json));
  add(Env("ISTIO_META_POD_PORTS", PodPortsJson(ListAt(*in.spec, "containers"))));
  const JsonValue app_containers = Env("ISTIO_META_APP_CONTAINERS", absl::StrJoin(in.app_containers, ","));
  if (sidecar || grpc) add(app_containers);
  if (!grpc) {
    add(ResourceRefEnv("GOMEMLIMIT", "limits.memory"));
    add(ResourceRefEnv("GOMAXPROCS", "limits.cpu"));
  }
  if (flavor == Flavor::kGateway) add(app_containers);
  add(Env("ISTIO_META_CLUSTER_ID", config.cluster_name.empty() ? "Kubernetes" : config.cluster_name));
  add(FieldRefEnv("ISTIO_META_NODE_NAME", "spec.nodeName"));
  if (!grpc) add(Env("ISTIO_META_INTERCEPTION_MODE", in.interception));
  if (!config.network.empty()) add(Env("ISTIO_META_NETWORK", config.network));
  const std::string workload = sidecar ? FirstNonEmpty({Get(in.labels, kWorkloadNameLabel), in.deploy.name}) : in.deploy.name;
  if (!workload.empty()) add(Env("ISTIO_META_WORKLOAD_NAME", workload));
  if (!in.deploy.api_version.empty() && !in.deploy.name.empty()) {
    add(Env("ISTIO_META_OWNER", absl::StrCat("kubernetes://apis/", in.deploy.api_version, "/namespaces/",
                                             in.ns.empty() ? "default" : in.ns, "/",
                                             absl::AsciiStrToLower(in.deploy.kind), "s/", in.deploy.name)));
  }
  if (std::string mesh_id = FirstNonEmpty({config.mesh_id, config.trust_domain}); !mesh_id.empty()) {
    add(Env("ISTIO_META_MESH_ID", mesh_id));
  }
  if (!config.trust_domain.empty()) add(Env("TRUST_DOMAIN", config.trust_domain));
  for (const auto& [key, value] : in.proxy_config.proxy_metadata) add(Env(key, value));
  if (grpc) {
    add(Env("ISTIO_META_DNS_CAPTURE", "false"));  // gRPC resolves xds:/// names itself
    add(Env("DISABLE_ENVOY", "true"));
  }
  return env;
}

JsonList ProxyArgs(const TemplateInput& in, const InjectionConfig& config, Flavor flavor) {
  JsonList args;
  for (const std::string& a : std::vector<std::string>{
           "proxy", flavor == Flavor::kGateway ? "router" : "sidecar", "--domain",
           "$(POD_NAMESPACE).svc." + config.cluster_domain,
           "--proxyLogLevel=" + Annotation(in.annotations, kProxyLogLevel, config.log_level),
           "--proxyComponentLogLevel=" + Annotation(in.annotations, kProxyComponentLogLevel, config.component_log_level),
           "--log_output_level=" + Annotation(in.annotations, kAgentLogLevel, config.agent_log_level)}) {
    *args.add_values() = Str(a);
  }
  return args;
}

// The mounts the templates give istio-proxy; the sidecar's adds the CRL after the root;
// the grpc-agent's has no credential socket and the xDS/SDS socket volume istio-xds.
JsonList ProxyMounts(Flavor flavor) {
  JsonList mounts;
  auto add = [&mounts](JsonValue v) { *mounts.add_values() = std::move(v); };
  if (flavor == Flavor::kGrpcAgent) {
    add(Mount("workload-socket", "/var/run/secrets/workload-spiffe-uds"));
    add(Mount("workload-certs", "/var/run/secrets/workload-spiffe-credentials"));
    add(Mount("istiod-ca-cert", "/var/run/secrets/istio"));
    add(Mount("istio-data", "/var/lib/istio/data"));
    add(Mount("istio-xds", "/etc/istio/proxy"));
    add(Mount("istio-token", "/var/run/secrets/tokens"));
    add(Mount("istio-podinfo", "/etc/istio/pod"));
    return mounts;
  }
  add(Mount("workload-socket", "/var/run/secrets/workload-spiffe-uds"));
  add(Mount("credential-socket", "/var/run/secrets/credential-uds"));
  add(Mount("workload-certs", "/var/run/secrets/workload-spiffe-credentials"));
  add(Mount("istiod-ca-cert", "/var/run/secrets/istio"));
  if (flavor == Flavor::kSidecar) add(Mount("istio-ca-crl", "/var/run/secrets/istio/crl"));
  add(Mount("istio-data", "/var/lib/istio/data"));
  add(Mount("istio-envoy", "/etc/istio/proxy"));
  add(Mount("istio-token", "/var/run/secrets/tokens"));
  add(Mount("istio-podinfo", "/etc/istio/pod"));
  return mounts;
}

// The pod volumes: the sidecar's three socket volumes are `emptyDir:` (null), the
// gateway's last two `emptyDir: {}`; the grpc-agent's has istio-xds for istio-envoy and
// no credential socket; only the sidecar's has the optional CRL.
JsonList Volumes(const InjectionConfig& config, Flavor flavor) {
  const bool sidecar = flavor == Flavor::kSidecar;
  JsonList volumes;
  auto add = [&volumes](JsonValue v) { *volumes.add_values() = std::move(v); };
  add(NamedOnly("workload-socket"));
  if (flavor == Flavor::kGrpcAgent) {
    add(NamedOnly("workload-certs"));
    add(EmptyDir("istio-xds", /*memory=*/true));
  } else {
    add(sidecar ? NamedOnly("credential-socket") : EmptyDir("credential-socket"));
    add(sidecar ? NamedOnly("workload-certs") : EmptyDir("workload-certs"));
    add(EmptyDir("istio-envoy", /*memory=*/true));
  }
  add(EmptyDir("istio-data"));
  add(Obj({{"name", Str("istio-podinfo")},
           {"downwardAPI",
            Obj({{"items", List({Obj({{"path", Str("labels")}, {"fieldRef", Obj({{"fieldPath", Str("metadata.labels")}})}}),
                                 Obj({{"path", Str("annotations")},
                                      {"fieldRef", Obj({{"fieldPath", Str("metadata.annotations")}})}})})}})}}));
  add(Obj({{"name", Str("istio-token")},
           {"projected", Obj({{"sources", List({Obj({{"serviceAccountToken",
                                                      Obj({{"path", Str("istio-token")},
                                                           {"expirationSeconds", Num(43200)},
                                                           {"audience", Str(config.token_audience)}})}})})}})}}));
  add(Obj({{"name", Str("istiod-ca-cert")}, {"configMap", Obj({{"name", Str("istio-ca-root-cert")}})}}));
  if (sidecar) {
    add(Obj({{"name", Str("istio-ca-crl")}, {"configMap", Obj({{"name", Str("istio-ca-crl")}, {"optional", Bool(true)}})}}));
  }
  return volumes;
}

// /healthz/ready on Envoy's health port; Go's omitempty leaves a zero delay out.
JsonValue ReadinessProbe(int initial_delay, int period, int failure) {
  JsonObject probe = Obj({{"httpGet", Obj({{"path", Str("/healthz/ready")}, {"port", Num(kEnvoyHealthPort)}})},
                          {"periodSeconds", Num(period)},
                          {"timeoutSeconds", Num(3)},
                          {"failureThreshold", Num(failure)}})
                         .struct_value();
  if (initial_delay != 0) (*probe.mutable_fields())["initialDelaySeconds"] = Num(initial_delay);
  return Obj(std::move(probe));
}

JsonValue PrometheusPort() {
  return List({Obj({{"containerPort", Num(kEnvoyPrometheusPort)}, {"protocol", Str("TCP")},
                    {"name", Str("http-envoy-prom")}})});
}

// istio-init: istio-iptables redirecting the pod's traffic to Envoy.
JsonObject InitContainer(const TemplateInput& in, const InjectionConfig& config, const JsonValue& resources) {
  const Strings& annotations = in.annotations;
  const std::string uid = std::to_string(kDefaultProxyUid);
  const std::string excluded_inbound = ExcludeInboundPort(
      std::to_string(in.agent_status_port), Annotation(annotations, kExcludeInboundPorts, config.exclude_inbound_ports));
  JsonList args;
  for (const std::string& a : std::vector<std::string>{
           "istio-iptables", "-p", "15001", "-z", "15006", "-u", uid, "-m", in.interception, "-i",
           Annotation(annotations, kIncludeOutboundIpRanges, config.include_ip_ranges), "-x",
           Annotation(annotations, kExcludeOutboundIpRanges, config.exclude_ip_ranges), "-b",
           Annotation(annotations, kIncludeInboundPorts, config.include_inbound_ports), "-d",
           excluded_inbound.empty() ? "15090,15021" : "15090,15021," + excluded_inbound}) {
    *args.add_values() = Str(a);
  }
  auto flag_from = [&](const char* flag, const char* name, const std::string& value_default) {
    const std::string v = Annotation(annotations, name, value_default);
    if (annotations.count(name) > 0 || !value_default.empty()) {
      *args.add_values() = Str(flag);
      *args.add_values() = Str(v);
    }
  };
  flag_from("-q", kIncludeOutboundPorts, config.include_outbound_ports);
  flag_from("-o", kExcludeOutboundPorts, config.exclude_outbound_ports);
  if (annotations.count(kRerouteVirtualInterfaces) > 0) {
    flag_from("-k", kRerouteVirtualInterfaces, "");
  } else if (annotations.count(kKubevirtInterfaces) > 0) {
    flag_from("-k", kKubevirtInterfaces, "");
  }
  if (annotations.count(kExcludeInterfaces) > 0) flag_from("-c", kExcludeInterfaces, "");
  *args.add_values() = Str("--log_output_level=" + Annotation(annotations, kAgentLogLevel, config.agent_log_level));
  JsonObject init = Obj({{"name", Str(kInitContainerName)},
                         {"image", Str(ImageRef(config, config.proxy_init_image, annotations))},
                         {"args", List(args)},
                         {"resources", resources},
                         {"securityContext",
                          Obj({{"allowPrivilegeEscalation", Bool(config.privileged)},
                               {"privileged", Bool(config.privileged)},
                               {"capabilities", Obj({{"add", List({Str("NET_ADMIN"), Str("NET_RAW")})},
                                                     {"drop", List({Str("ALL")})}})},
                               {"readOnlyRootFilesystem", Bool(false)},
                               {"runAsGroup", Num(0)},
                               {"runAsNonRoot", Bool(false)},
                               {"runAsUser", Num(0)}})}})
                         .struct_value();
  if (!config.image_pull_policy.empty()) (*init.mutable_fields())["imagePullPolicy"] = Str(config.image_pull_policy);
  // ProxyConfig.proxyMetadata: the agent's settings, which istio-iptables reads too.
  JsonList metadata_env;
  for (const auto& [key, value] : in.proxy_config.proxy_metadata) *metadata_env.add_values() = Env(key, value);
  if (metadata_env.values_size() > 0) (*init.mutable_fields())["env"] = List(metadata_env);
  return init;
}

}  // namespace

RenderedTemplate RenderSidecarTemplate(const TemplateInput& in, const InjectionConfig& config) {
  RenderedTemplate out;
  const JsonValue resources = Resources(config, in.annotations);
  out.init_container = InitContainer(in, config, resources);
  // The template's `.ProxyConfig.HoldApplicationUntilProxyStarts or global.proxy.holdApplicationUntilProxyStarts`.
  const bool hold_application =
      in.proxy_config.hold_application_until_proxy_starts || config.hold_application_until_proxy_starts;
  out.proxy = Obj({{"name", Str(kProxyContainerName)},
                   {"image", Str(ImageRef(config, config.proxy_image, in.annotations))},
                   {"ports", PrometheusPort()},
                   {"args", List(ProxyArgs(in, config, Flavor::kSidecar))},
                   {"securityContext", Obj({{"allowPrivilegeEscalation", Bool(config.privileged)},
                                            {"capabilities", Obj({{"drop", List({Str("ALL")})}})},
                                            {"privileged", Bool(config.privileged)},
                                            {"readOnlyRootFilesystem", Bool(true)},
                                            {"runAsNonRoot", Bool(true)},
                                            {"runAsUser", Num(kDefaultProxyUid)},
                                            {"runAsGroup", Num(kDefaultProxyUid)}})},
                   {"resources", resources},
                   {"volumeMounts", List(ProxyMounts(Flavor::kSidecar))}})
                  .struct_value();
  auto& proxy = *out.proxy.mutable_fields();
  if (!config.image_pull_policy.empty()) proxy["imagePullPolicy"] = Str(config.image_pull_policy);
  if (hold_application) {
    proxy["lifecycle"] = Obj({{"postStart", Obj({{"exec", Obj({{"command", List({Str("pilot-agent"), Str("wait")})}})}})}});
  }
  if (in.agent_status_port != 0) {
    if (config.startup_probe_enabled) {
      proxy["startupProbe"] =
          Obj({{"httpGet", Obj({{"path", Str("/healthz/ready")}, {"port", Num(kEnvoyHealthPort)}})},
               {"periodSeconds", Num(1)},
               {"timeoutSeconds", Num(3)},
               {"failureThreshold", Num(config.startup_probe_failure_threshold)}});
    }
    proxy["readinessProbe"] = ReadinessProbe(in.readiness_initial_delay, in.readiness_period, in.readiness_failure);
  }
  out.env = ProxyEnv(in, config, Flavor::kSidecar);
  out.volumes = Volumes(config, Flavor::kSidecar);
  out.tls_mode_label = true;
  return out;
}

RenderedTemplate RenderGatewayTemplate(const TemplateInput& in, const InjectionConfig& config) {
  RenderedTemplate out;
  // No resources of its own, probes from the values only: the gateway chart's Deployment sets its own.
  out.proxy = Obj({{"name", Str(kProxyContainerName)},
                   {"image", Str(ImageRef(config, config.proxy_image, in.annotations))},
                   {"ports", PrometheusPort()},
                   {"args", List(ProxyArgs(in, config, Flavor::kGateway))},
                   {"securityContext", Obj({{"runAsUser", Num(kDefaultProxyUid)}, {"runAsGroup", Num(kDefaultProxyUid)}})},
                   {"resources", Obj(JsonObject())},  // Go marshals a Container's resources even when empty
                   {"readinessProbe", ReadinessProbe(config.readiness_initial_delay_seconds,
                                                     config.readiness_period_seconds, config.readiness_failure_threshold)},
                   {"volumeMounts", List(ProxyMounts(Flavor::kGateway))}})
                  .struct_value();
  if (!config.image_pull_policy.empty()) (*out.proxy.mutable_fields())["imagePullPolicy"] = Str(config.image_pull_policy);
  out.env = ProxyEnv(in, config, Flavor::kGateway);
  out.volumes = Volumes(config, Flavor::kGateway);
  // values gateways.securityContext unset: the sysctl that lets Envoy bind 80 and 443 unprivileged.
  out.pod_sysctls = List({Obj({{"name", Str("net.ipv4.ip_unprivileged_port_start")}, {"value", Str("0")}})});
  return out;
}

RenderedTemplate RenderGrpcAgentTemplate(const TemplateInput& in, const InjectionConfig& config) {
  RenderedTemplate out;
  out.proxy = Obj({{"name", Str(kProxyContainerName)},
                   {"image", Str(ImageRef(config, config.proxy_image, in.annotations))},
                   {"ports", List({Obj({{"containerPort", Num(15020)},
                                        {"protocol", Str("TCP")},
                                        {"name", Str("mesh-metrics")}})})},
                   {"args", List(ProxyArgs(in, config, Flavor::kGrpcAgent))},
                   {"lifecycle", Obj({{"postStart", Obj({{"exec", Obj({{"command", List({Str("pilot-agent"), Str("wait"),
                                                                                        Str("--url=http://localhost:15020/healthz/ready")})}})}})}})}})
                  .struct_value();
  auto& proxy = *out.proxy.mutable_fields();
  if (!config.image_pull_policy.empty()) proxy["imagePullPolicy"] = Str(config.image_pull_policy);
  // The template's `if` around the probe also holds the resources and the mounts.
  if (in.agent_status_port != 0) {
    JsonObject probe = ReadinessProbe(in.readiness_initial_delay, in.readiness_period, in.readiness_failure).struct_value();
    (*probe.mutable_fields())["httpGet"] = Obj({{"path", Str("/healthz/ready")}, {"port", Num(15020)}});
    proxy["readinessProbe"] = Obj(std::move(probe));
    proxy["resources"] = Resources(config, in.annotations);
    proxy["volumeMounts"] = List(ProxyMounts(Flavor::kGrpcAgent));
  } else {
    proxy["resources"] = Obj(JsonObject());  // Go marshals a Container's resources even when empty
  }
  out.env = ProxyEnv(in, config, Flavor::kGrpcAgent);
  out.volumes = Volumes(config, Flavor::kGrpcAgent);
  // Each app container reads the agent's gRPC bootstrap and certificates.
  for (const std::string& name : in.app_containers) {
    out.app_container_patches.push_back(
        Obj({{"name", Str(name)},
             {"env", List({Env("GRPC_XDS_EXPERIMENTAL_SECURITY_SUPPORT", "true"),
                           Env("GRPC_XDS_BOOTSTRAP", "/etc/istio/proxy/grpc-bootstrap.json")})},
             {"volumeMounts", List({Mount("istio-data", "/var/lib/istio/data"), Mount("istio-xds", "/etc/istio/proxy"),
                                    Mount("workload-certs", "/var/run/secrets/workload-spiffe-credentials")})}})
            .struct_value());
  }
  out.annotations[kRewriteAppHttpProbers] = "false";
  return out;
}

}  // namespace keel::pilot::inject
