#include "pilot/inject/sidecar_injector.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "pilot/inject/app_probe.h"
#include "pilot/inject/names.h"
#include "pilot/inject/proxy_config.h"

namespace keel::pilot::inject {
namespace {

// Namespaces istiod never injects into (inject.IgnoredNamespaces).
const std::set<std::string>& IgnoredNamespaces() {
  static const auto* kIgnored = new std::set<std::string>{"kube-system", "kube-public", "kube-node-lease",
                                                          "local-path-storage"};
  return *kIgnored;
}

using Strings = std::map<std::string, std::string>;

// The template's `annotation .ObjectMeta NAME DEFAULT`.
std::string Annotation(const Strings& annotations, const std::string& name, const std::string& fallback) {
  auto it = annotations.find(name);
  return it == annotations.end() ? fallback : it->second;
}

// The template's `index MAP KEY | default ...` chain: the first non-empty.
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

// istiod's injectRequired, minus the namespace selection the webhook
// configuration's namespaceSelector already made. Returns "" when required, else why not.
std::string SkipReason(const JsonObject& spec, const std::string& ns, const Strings& labels,
                       const Strings& annotations, const InjectionConfig& config) {
  if (const JsonValue* host = Member(spec, "hostNetwork"); host != nullptr && host->bool_value()) {
    return "hostNetwork pod";
  }
  if (IgnoredNamespaces().count(ns) > 0) return absl::StrCat("namespace ", ns, " is never injected");
  std::string selector = Get(annotations, kSidecarInject);
  if (auto label = labels.find(kSidecarInject); label != labels.end()) selector = label->second;  // the label wins
  bool use_default = selector != "true" && selector != "false";
  bool inject = selector == "true";
  if (use_default) {
    for (const auto& never : config.never_inject_selector) {
      if (!never.empty() && never.Matches(labels)) {
        inject = false;
        use_default = false;
        break;
      }
    }
  }
  if (use_default) {
    for (const auto& always : config.always_inject_selector) {
      if (!always.empty() && always.Matches(labels)) {
        inject = true;
        use_default = false;
        break;
      }
    }
  }
  const bool required = use_default ? config.policy_enabled : inject;
  if (required) return "";
  if (!use_default) return absl::StrCat(kSidecarInject, "=", selector.empty() ? "(neverInjectSelector)" : selector);
  return "injection policy disabled and the pod does not ask for it";
}

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

// The template's "resources" block: the pod's proxy resource annotations when any is
// set, else global.proxy.resources.
JsonValue Resources(const InjectionConfig& config, const Strings& annotations) {
  const bool any = annotations.count(kProxyCpu) || annotations.count(kProxyMemory) ||
                   annotations.count(kProxyCpuLimit) || annotations.count(kProxyMemoryLimit);
  const auto& r = config.proxy_resources;
  if (!any) {
    return Obj({{"requests", Obj({{"cpu", Str(r.requests_cpu)}, {"memory", Str(r.requests_memory)}})},
                {"limits", Obj({{"cpu", Str(r.limits_cpu)}, {"memory", Str(r.limits_memory)}})}});
  }
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

JsonValue FieldRefEnv(const std::string& name, const std::string& path) {
  return Obj({{"name", Str(name)}, {"valueFrom", Obj({{"fieldRef", Obj({{"fieldPath", Str(path)}})}})}});
}
JsonValue ResourceRefEnv(const std::string& name, const std::string& resource) {
  return Obj({{"name", Str(name)},
              {"valueFrom", Obj({{"resourceFieldRef", Obj({{"resource", Str(resource)}, {"divisor", Str("1")}})}})}});
}
JsonValue Env(const std::string& name, const std::string& value) {
  return Obj({{"name", Str(name)}, {"value", Str(value)}});
}

// A non-negative integer annotation, as istiod's validation requires of the
// readiness annotations and the status port.
absl::StatusOr<int> IntAnnotation(const Strings& annotations, const std::string& name, int fallback) {
  auto it = annotations.find(name);
  if (it == annotations.end()) return fallback;
  int v = 0;
  if (!absl::SimpleAtoi(it->second, &v) || v < 0) {
    return absl::InvalidArgumentError(absl::StrCat("annotation ", name, ": \"", it->second,
                                                   "\" is not a non-negative integer"));
  }
  return v;
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

// The template's `trunc 63 | trimAll "-_."`.
std::string CanonicalName(std::string name) {
  if (name.size() > 63) name.resize(63);
  size_t b = name.find_first_not_of("-_.");
  if (b == std::string::npos) return "";
  size_t e = name.find_last_not_of("-_.");
  return name.substr(b, e - b + 1);
}

// Moves the container named `name` in `list` to the front or the back.
void MoveContainer(JsonList& list, const std::string& name, bool to_front) {
  auto* values = list.mutable_values();
  for (int i = 0; i < values->size(); ++i) {
    if (StringAt(values->Get(i).struct_value(), "name") != name) continue;
    JsonValue c = values->Get(i);
    values->erase(values->begin() + i);
    if (to_front) {
      values->Add();
      for (int j = values->size() - 1; j > 0; --j) values->SwapElements(j, j - 1);
      *values->Mutable(0) = std::move(c);
    } else {
      *values->Add() = std::move(c);
    }
    return;
  }
}

// The member lists of a Container that a strategic merge patch merges by a key
// (corev1's patchMergeKey); every other list is replaced.
const char* MergeKeyOf(const std::string& list) {
  if (list == "env") return "name";
  if (list == "ports") return "containerPort";
  if (list == "volumeMounts") return "mountPath";
  return nullptr;
}

// A strategic merge of `overlay` onto `base`, as istiod applies a user's own
// istio-proxy (or istio-init) container over the injected one: objects merge member
// by member, keyed lists element by element, other values replace.
void StrategicMerge(JsonObject& base, const JsonObject& overlay) {
  for (const auto& [key, value] : overlay.fields()) {
    JsonValue& target = (*base.mutable_fields())[key];
    if (value.has_struct_value() && target.has_struct_value()) {
      StrategicMerge(*target.mutable_struct_value(), value.struct_value());
    } else if (const char* merge_key = MergeKeyOf(key); merge_key != nullptr && value.has_list_value() &&
               target.has_list_value()) {
      for (const auto& item : value.list_value().values()) {
        JsonValue* match = nullptr;
        for (auto& existing : *target.mutable_list_value()->mutable_values()) {
          const JsonValue* a = Member(existing.struct_value(), merge_key);
          const JsonValue* b = Member(item.struct_value(), merge_key);
          if (a != nullptr && b != nullptr && ToJson(*a) == ToJson(*b)) match = &existing;
        }
        if (match != nullptr) {
          StrategicMerge(*match->mutable_struct_value(), item.struct_value());
        } else {
          *target.mutable_list_value()->add_values() = item;
        }
      }
    } else {
      target = value;
    }
  }
}

// Go's corev1.Container field order, for the proxy.istio.io/overrides annotation.
const std::vector<std::string>& ContainerFieldOrder() {
  static const auto* kOrder = new std::vector<std::string>{
      "name", "image", "command", "args", "workingDir", "ports", "envFrom", "env", "resources", "resizePolicy",
      "restartPolicy", "restartPolicyRules", "volumeMounts", "volumeDevices", "livenessProbe", "readinessProbe",
      "startupProbe", "lifecycle", "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy",
      "securityContext", "stdin", "stdinOnce", "tty"};
  return *kOrder;
}

// Merges `injected` into `list` by name. A container the pod already has (a user's
// istio-proxy with overrides) is merged over the injected one (its image "auto"
// dropped), and what it set is returned, for the overrides annotation.
std::optional<JsonObject> MergeByName(JsonList& list, const JsonValue& injected) {
  const std::string name = StringAt(injected.struct_value(), "name");
  for (auto& existing : *list.mutable_values()) {
    if (StringAt(existing.struct_value(), "name") != name) continue;
    JsonObject overlay = existing.struct_value();
    if (StringAt(overlay, "image") == "auto") overlay.mutable_fields()->erase("image");
    JsonObject merged = injected.struct_value();
    StrategicMerge(merged, overlay);
    *existing.mutable_struct_value() = std::move(merged);
    return overlay;
  }
  *list.add_values() = injected;
  return std::nullopt;
}

JsonValue Mount(const std::string& name, const std::string& path) {
  return Obj({{"name", Str(name)}, {"mountPath", Str(path)}});
}

JsonValue EmptyDir(const std::string& name, bool memory = false) {
  return Obj({{"name", Str(name)}, {"emptyDir", memory ? Obj({{"medium", Str("Memory")}}) : Obj(JsonObject())}});
}

// A Job a CronJob made is named <cronjob>-<8 to 10 digits>: the CronJob's name, else "".
std::string CronJobName(const std::string& job) {
  size_t dash = job.rfind('-');
  if (dash == std::string::npos || dash == 0) return "";
  const size_t digits = job.size() - dash - 1;
  if (digits < 8 || digits > 10) return "";
  for (size_t i = dash + 1; i < job.size(); ++i) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(job[i]))) return "";
  }
  return job.substr(0, dash);
}

}  // namespace

DeployMeta DeployMetaFromPod(const JsonObject& metadata) {
  DeployMeta out;
  out.name = StringAt(metadata, "name");
  if (!StringAt(metadata, "generateName").empty()) {
    const Strings labels = StringMapAt(metadata, "labels");
    for (const auto& ref : ListAt(metadata, "ownerReferences").values()) {
      const JsonObject& r = ref.struct_value();
      const JsonValue* controller = Member(r, "controller");
      if (controller == nullptr || !controller->bool_value()) continue;
      out.api_version = StringAt(r, "apiVersion");
      out.kind = StringAt(r, "kind");
      out.name = StringAt(r, "name");
      const std::string hash = Get(labels, "pod-template-hash");
      if (out.kind == "ReplicaSet" && !hash.empty() && absl::EndsWith(out.name, hash)) {
        out.name = std::string(absl::StripSuffix(out.name, "-" + hash));
        out.kind = "Deployment";
      } else if (out.kind == "Job" && !CronJobName(out.name).empty()) {
        out.name = CronJobName(out.name);
        out.kind = "CronJob";
        out.api_version = "batch/v1";
      }
      break;
    }
  }
  if (out.name.empty()) out.name = StringAt(metadata, "name");
  return out;
}

absl::StatusOr<InjectionOutcome> InjectSidecar(const JsonObject& original, const std::string& request_namespace,
                                               const InjectionConfig& config) {
  InjectionOutcome outcome;
  JsonObject pod = original;
  JsonObject& metadata = *(*pod.mutable_fields())["metadata"].mutable_struct_value();
  const std::string ns = StringAt(metadata, "namespace").empty() ? request_namespace : StringAt(metadata, "namespace");
  const std::string pod_name = FirstNonEmpty({StringAt(metadata, "name"), StringAt(metadata, "generateName")});
  const std::string where = absl::StrCat("Pod ", ns, "/", pod_name);
  const JsonValue* spec_value = Member(pod, "spec");
  if (spec_value == nullptr || !spec_value->has_struct_value()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": spec: must be an object"));
  }
  Strings labels = StringMapAt(metadata, "labels");
  Strings annotations = StringMapAt(metadata, "annotations");

  if (std::string why = SkipReason(spec_value->struct_value(), ns, labels, annotations, config); !why.empty()) {
    outcome.skip_reason = why;
    return outcome;
  }
  if (annotations.count(kSidecarStatus) > 0) {
    for (const auto& c : ListAt(spec_value->struct_value(), "containers").values()) {
      if (StringAt(c.struct_value(), "name") == kProxyContainerName) {
        outcome.skip_reason = "already injected";
        return outcome;
      }
    }
  }
  const std::string templates = Annotation(annotations, kInjectTemplates, "sidecar");
  if (templates != "sidecar") {
    return absl::InvalidArgumentError(absl::StrCat(where, ": annotation ", kInjectTemplates, ": template \"", templates,
                                                   "\" is not one Keel knows (known: sidecar)"));
  }
  const std::string interception = Annotation(annotations, kInterceptionMode, "REDIRECT");
  if (interception != "REDIRECT") {
    return absl::InvalidArgumentError(absl::StrCat(where, ": annotation ", kInterceptionMode, ": \"", interception,
                                                   "\" is not supported by Keel's injector yet (only REDIRECT)"));
  }
  auto status_port = IntAnnotation(annotations, kStatusPort, config.status_port);
  auto initial_delay = IntAnnotation(annotations, kReadinessInitialDelay, config.readiness_initial_delay_seconds);
  auto period = IntAnnotation(annotations, kReadinessPeriod, config.readiness_period_seconds);
  auto failure = IntAnnotation(annotations, kReadinessFailureThreshold, config.readiness_failure_threshold);
  for (const auto* s : {&status_port, &initial_delay, &period, &failure}) {
    if (!s->ok()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", s->status().message()));
  }
  const int agent_status_port = *status_port;

  JsonObject& spec = *(*pod.mutable_fields())["spec"].mutable_struct_value();
  const DeployMeta deploy = DeployMetaFromPod(metadata);
  std::vector<std::string> app_containers;
  for (const auto& c : ListAt(spec, "containers").values()) {
    if (StringAt(c.struct_value(), "name") != kProxyContainerName) app_containers.push_back(StringAt(c.struct_value(), "name"));
  }
  const std::string revision = config.revision.empty() ? "default" : config.revision;
  const std::string istiod =
      absl::StrCat("istiod", config.revision.empty() ? "" : "-" + config.revision, ".", config.istio_namespace, ".svc:15012");
  auto proxy_config = MergeProxyConfig(config.default_proxy_config_json, Get(annotations, kProxyConfigAnnotation), istiod);
  if (!proxy_config.ok()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", proxy_config.status().message()));
  // The template's `.ProxyConfig.HoldApplicationUntilProxyStarts or global.proxy.holdApplicationUntilProxyStarts`.
  const bool hold_application =
      proxy_config->hold_application_until_proxy_starts || config.hold_application_until_proxy_starts;
  JsonList metadata_env;  // ProxyConfig.proxyMetadata: the agent reads its settings from env
  for (const auto& [key, value] : proxy_config->proxy_metadata) *metadata_env.add_values() = Env(key, value);
  const std::string uid = std::to_string(kDefaultProxyUid);
  const std::string agent_log_level = Annotation(annotations, kAgentLogLevel, config.agent_log_level);
  const std::string pull_policy = config.image_pull_policy;
  const JsonValue resources = Resources(config, annotations);

  // istio-init: istio-iptables redirecting the pod's traffic to Envoy.
  const std::string excluded_inbound =
      ExcludeInboundPort(std::to_string(agent_status_port), Annotation(annotations, kExcludeInboundPorts, config.exclude_inbound_ports));
  JsonList init_args;
  for (const std::string& a : std::vector<std::string>{
           "istio-iptables", "-p", "15001", "-z", "15006", "-u", uid, "-m", interception, "-i",
           Annotation(annotations, kIncludeOutboundIpRanges, config.include_ip_ranges), "-x",
           Annotation(annotations, kExcludeOutboundIpRanges, config.exclude_ip_ranges), "-b",
           Annotation(annotations, kIncludeInboundPorts, config.include_inbound_ports), "-d",
           excluded_inbound.empty() ? "15090,15021" : "15090,15021," + excluded_inbound}) {
    *init_args.add_values() = Str(a);
  }
  auto flag_from = [&](const char* flag, const char* name, const std::string& value_default) {
    const std::string v = Annotation(annotations, name, value_default);
    if (annotations.count(name) > 0 || !value_default.empty()) {
      *init_args.add_values() = Str(flag);
      *init_args.add_values() = Str(v);
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
  *init_args.add_values() = Str("--log_output_level=" + agent_log_level);
  JsonObject init = Obj({{"name", Str(kInitContainerName)},
                         {"image", Str(ImageRef(config, config.proxy_init_image, annotations))},
                         {"args", List(init_args)},
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
  if (!pull_policy.empty()) (*init.mutable_fields())["imagePullPolicy"] = Str(pull_policy);
  if (metadata_env.values_size() > 0) (*init.mutable_fields())["env"] = List(metadata_env);

  // istio-proxy: pilot-agent running Envoy.
  JsonList env;
  for (JsonValue v : {Env("PILOT_CERT_PROVIDER", "istiod"),
                      Env("CA_ADDR", config.ca_address.empty() ? istiod : config.ca_address),
                      FieldRefEnv("POD_NAME", "metadata.name"), FieldRefEnv("POD_NAMESPACE", "metadata.namespace"),
                      FieldRefEnv("INSTANCE_IP", "status.podIP"), FieldRefEnv("SERVICE_ACCOUNT", "spec.serviceAccountName"),
                      FieldRefEnv("HOST_IP", "status.hostIP"), ResourceRefEnv("ISTIO_CPU_LIMIT", "limits.cpu"),
                      Env("PROXY_CONFIG", proxy_config->json), Env("ISTIO_META_POD_PORTS", PodPortsJson(ListAt(spec, "containers"))),
                      Env("ISTIO_META_APP_CONTAINERS", absl::StrJoin(app_containers, ",")),
                      ResourceRefEnv("GOMEMLIMIT", "limits.memory"), ResourceRefEnv("GOMAXPROCS", "limits.cpu"),
                      Env("ISTIO_META_CLUSTER_ID", config.cluster_name.empty() ? "Kubernetes" : config.cluster_name),
                      FieldRefEnv("ISTIO_META_NODE_NAME", "spec.nodeName"),
                      Env("ISTIO_META_INTERCEPTION_MODE", interception)}) {
    *env.add_values() = std::move(v);
  }
  if (!config.network.empty()) *env.add_values() = Env("ISTIO_META_NETWORK", config.network);
  if (std::string w = FirstNonEmpty({Get(labels, kWorkloadNameLabel), deploy.name}); !w.empty()) {
    *env.add_values() = Env("ISTIO_META_WORKLOAD_NAME", w);
  }
  if (!deploy.api_version.empty() && !deploy.name.empty()) {
    *env.add_values() = Env("ISTIO_META_OWNER", absl::StrCat("kubernetes://apis/", deploy.api_version, "/namespaces/",
                                                             ns.empty() ? "default" : ns, "/",
                                                             absl::AsciiStrToLower(deploy.kind), "s/", deploy.name));
  }
  if (std::string mesh_id = FirstNonEmpty({config.mesh_id, config.trust_domain}); !mesh_id.empty()) {
    *env.add_values() = Env("ISTIO_META_MESH_ID", mesh_id);
  }
  if (!config.trust_domain.empty()) *env.add_values() = Env("TRUST_DOMAIN", config.trust_domain);
  for (const auto& e : metadata_env.values()) *env.add_values() = e;

  JsonList proxy_args;
  for (const std::string& a : std::vector<std::string>{
           "proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc." + config.cluster_domain,
           "--proxyLogLevel=" + Annotation(annotations, kProxyLogLevel, config.log_level),
           "--proxyComponentLogLevel=" + Annotation(annotations, kProxyComponentLogLevel, config.component_log_level),
           "--log_output_level=" + agent_log_level}) {
    *proxy_args.add_values() = Str(a);
  }
  JsonList mounts;
  for (JsonValue m : {Mount("workload-socket", "/var/run/secrets/workload-spiffe-uds"),
                      Mount("credential-socket", "/var/run/secrets/credential-uds"),
                      Mount("workload-certs", "/var/run/secrets/workload-spiffe-credentials"),
                      Mount("istiod-ca-cert", "/var/run/secrets/istio"), Mount("istio-ca-crl", "/var/run/secrets/istio/crl"),
                      Mount("istio-data", "/var/lib/istio/data"), Mount("istio-envoy", "/etc/istio/proxy"),
                      Mount("istio-token", "/var/run/secrets/tokens"), Mount("istio-podinfo", "/etc/istio/pod")}) {
    *mounts.add_values() = std::move(m);
  }
  const JsonValue health = Obj({{"path", Str("/healthz/ready")}, {"port", Num(kEnvoyHealthPort)}});
  JsonObject proxy =
      Obj({{"name", Str(kProxyContainerName)},
           {"image", Str(ImageRef(config, config.proxy_image, annotations))},
           {"ports", List({Obj({{"containerPort", Num(kEnvoyPrometheusPort)}, {"protocol", Str("TCP")},
                                {"name", Str("http-envoy-prom")}})})},
           {"args", List(proxy_args)},
           {"securityContext", Obj({{"allowPrivilegeEscalation", Bool(config.privileged)},
                                    {"capabilities", Obj({{"drop", List({Str("ALL")})}})},
                                    {"privileged", Bool(config.privileged)},
                                    {"readOnlyRootFilesystem", Bool(true)},
                                    {"runAsNonRoot", Bool(true)},
                                    {"runAsUser", Num(kDefaultProxyUid)},
                                    {"runAsGroup", Num(kDefaultProxyUid)}})},
           {"resources", resources},
           {"volumeMounts", List(mounts)}})
          .struct_value();
  if (!pull_policy.empty()) (*proxy.mutable_fields())["imagePullPolicy"] = Str(pull_policy);
  if (hold_application) {
    (*proxy.mutable_fields())["lifecycle"] =
        Obj({{"postStart", Obj({{"exec", Obj({{"command", List({Str("pilot-agent"), Str("wait")})}})}})}});
  }
  if (agent_status_port != 0) {
    if (config.startup_probe_enabled) {
      (*proxy.mutable_fields())["startupProbe"] =
          Obj({{"httpGet", health}, {"periodSeconds", Num(1)}, {"timeoutSeconds", Num(3)},
               {"failureThreshold", Num(config.startup_probe_failure_threshold)}});
    }
    JsonObject readiness = Obj({{"httpGet", health}, {"periodSeconds", Num(*period)}, {"timeoutSeconds", Num(3)},
                                {"failureThreshold", Num(*failure)}})
                               .struct_value();
    // Go's omitempty: istiod's patch leaves a zero delay out (the API server defaults it to 0).
    if (*initial_delay != 0) (*readiness.mutable_fields())["initialDelaySeconds"] = Num(*initial_delay);
    (*proxy.mutable_fields())["readinessProbe"] = Obj(std::move(readiness));
  }

  JsonList volumes;
  // The template's `emptyDir:` (null) for the three sockets' volumes: a volume with a
  // name only, which the API server defaults to an emptyDir.
  for (JsonValue v : {Obj({{"name", Str("workload-socket")}}), Obj({{"name", Str("credential-socket")}}),
                      Obj({{"name", Str("workload-certs")}}),
                      EmptyDir("istio-envoy", /*memory=*/true), EmptyDir("istio-data"),
                      Obj({{"name", Str("istio-podinfo")},
                           {"downwardAPI",
                            Obj({{"items", List({Obj({{"path", Str("labels")},
                                                      {"fieldRef", Obj({{"fieldPath", Str("metadata.labels")}})}}),
                                                 Obj({{"path", Str("annotations")},
                                                      {"fieldRef", Obj({{"fieldPath", Str("metadata.annotations")}})}})})}})}}),
                      Obj({{"name", Str("istio-token")},
                           {"projected", Obj({{"sources", List({Obj({{"serviceAccountToken",
                                                                      Obj({{"path", Str("istio-token")},
                                                                           {"expirationSeconds", Num(43200)},
                                                                           {"audience", Str(config.token_audience)}})}})})}})}}),
                      Obj({{"name", Str("istiod-ca-cert")}, {"configMap", Obj({{"name", Str("istio-ca-root-cert")}})}}),
                      Obj({{"name", Str("istio-ca-crl")},
                           {"configMap", Obj({{"name", Str("istio-ca-crl")}, {"optional", Bool(true)}})}})}) {
    *volumes.add_values() = std::move(v);
  }

  // The sidecar.istio.io/status annotation lists what the template injected.
  std::vector<std::string> volume_names;
  for (const auto& v : volumes.values()) volume_names.push_back(ToJson(Str(StringAt(v.struct_value(), "name"))));
  const std::string status = absl::StrCat("{\"initContainers\":[\"", kInitContainerName, "\"],\"containers\":[\"",
                                          kProxyContainerName, "\"],\"volumes\":[", absl::StrJoin(volume_names, ","),
                                          "],\"imagePullSecrets\":null,\"revision\":", ToJson(Str(revision)), "}");

  // Merge into the pod.
  JsonList& containers = *(*spec.mutable_fields())["containers"].mutable_list_value();
  JsonList& init_containers = *(*spec.mutable_fields())["initContainers"].mutable_list_value();
  // The user's own istio-init / istio-proxy, re-applied over the injected ones and
  // recorded (as istiod's reapplyOverwrittenContainers) for a later re-injection.
  std::vector<JsonValue> overridden_init, overridden;
  if (auto o = MergeByName(init_containers, Obj(init))) overridden_init.push_back(Obj(*o));
  if (auto o = MergeByName(containers, Obj(proxy))) overridden.push_back(Obj(*o));
  JsonList& pod_volumes = *(*spec.mutable_fields())["volumes"].mutable_list_value();
  for (const auto& v : volumes.values()) MergeByName(pod_volumes, v);

  labels.emplace(kTlsModeLabel, "istio");
  labels[kCanonicalNameLabel] = CanonicalName(FirstNonEmpty(
      {Get(labels, kCanonicalNameLabel), Get(labels, "app.kubernetes.io/name"), Get(labels, "app"), deploy.name}));
  labels[kCanonicalRevisionLabel] = FirstNonEmpty(
      {Get(labels, kCanonicalRevisionLabel), Get(labels, "app.kubernetes.io/version"), Get(labels, "version"), "latest"});
  annotations[kIstioRev] = revision;
  if (!app_containers.empty()) {
    annotations.emplace(kDefaultLogsContainer, app_containers[0]);
    annotations.emplace(kDefaultContainer, app_containers[0]);
  }

  // Post-processing (istiod's postProcessPod): Prometheus merge, probe rewrite, status, order.
  JsonObject* sidecar = nullptr;
  for (auto& c : *containers.mutable_values()) {
    if (StringAt(c.struct_value(), "name") == kProxyContainerName) sidecar = c.mutable_struct_value();
  }
  JsonList& sidecar_env = *(*sidecar->mutable_fields())["env"].mutable_list_value();
  for (const auto& e : env.values()) *sidecar_env.add_values() = e;
  bool merge = config.prometheus_merge;
  if (auto it = annotations.find(kPrometheusMergeMetrics); it != annotations.end()) merge = it->second != "false";
  if (Get(annotations, "prometheus.io/scrape") != "false" && merge &&
      Get(annotations, "prometheus.io/port") != std::to_string(agent_status_port)) {
    JsonObject scrape;
    for (const char* k : {"scrape", "path", "port"}) {
      (*scrape.mutable_fields())[k] = Str(Get(annotations, absl::StrCat("prometheus.io/", k)));
    }
    if (annotations.count("prometheus.io/scrape") || annotations.count("prometheus.io/path") ||
        annotations.count("prometheus.io/port")) {
      *sidecar_env.add_values() = Env("ISTIO_PROMETHEUS_ANNOTATIONS",
                                      absl::StrCat("{\"scrape\":", ToJson(Str(Get(annotations, "prometheus.io/scrape"))),
                                                   ",\"path\":", ToJson(Str(Get(annotations, "prometheus.io/path"))),
                                                   ",\"port\":", ToJson(Str(Get(annotations, "prometheus.io/port"))), "}"));
    }
    annotations["prometheus.io/port"] = std::to_string(agent_status_port);
    annotations["prometheus.io/path"] = "/stats/prometheus";
    annotations["prometheus.io/scrape"] = "true";
  }
  bool rewrite = config.rewrite_app_http_probe;
  if (auto it = annotations.find(kRewriteAppHttpProbers); it != annotations.end()) {
    if (it->second == "true" || it->second == "false") rewrite = it->second == "true";
  }
  if (rewrite) {
    if (std::string probers = RewriteAppProbes(spec, agent_status_port); !probers.empty()) {
      // RewriteAppProbes may have moved `containers`; look the sidecar up again.
      for (auto& c : *(*spec.mutable_fields())["containers"].mutable_list_value()->mutable_values()) {
        if (StringAt(c.struct_value(), "name") == kProxyContainerName) {
          *(*c.mutable_struct_value()->mutable_fields())["env"].mutable_list_value()->add_values() =
              Env("ISTIO_KUBE_APP_PROBERS", probers);
        }
      }
    }
  }
  annotations[kSidecarStatus] = status;
  if (!overridden.empty() || !overridden_init.empty()) {
    JsonObject overrides;
    for (auto [key, list] : {std::pair{"containers", &overridden}, {"initContainers", &overridden_init}}) {
      if (list->empty()) continue;
      JsonList& out = *(*overrides.mutable_fields())[key].mutable_list_value();
      for (JsonValue c : *list) {
        // Go marshals a Container's resources even when empty.
        if (Member(c.struct_value(), "resources") == nullptr) {
          (*c.mutable_struct_value()->mutable_fields())["resources"] = Obj(JsonObject());
        }
        *out.add_values() = std::move(c);
      }
    }
    annotations[kProxyOverrides] = ToJsonInOrder(overrides, ContainerFieldOrder());
  }
  for (const auto& [k, v] : config.injected_annotations) annotations[k] = v;
  JsonList& final_containers = *(*spec.mutable_fields())["containers"].mutable_list_value();
  MoveContainer(final_containers, kProxyContainerName, hold_application);
  MoveContainer(*(*spec.mutable_fields())["initContainers"].mutable_list_value(), kInitContainerName, false);

  (*metadata.mutable_fields())["labels"] = StringMap(labels);
  (*metadata.mutable_fields())["annotations"] = StringMap(annotations);
  outcome.injected = true;
  outcome.pod = std::move(pod);
  return outcome;
}

}  // namespace keel::pilot::inject
