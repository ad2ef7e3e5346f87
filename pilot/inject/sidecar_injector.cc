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
#include "pilot/inject/quantity.h"
#include "pilot/inject/templates.h"

namespace keel::pilot::inject {
namespace {

// Namespaces istiod never injects into (inject.IgnoredNamespaces).
const std::set<std::string>& IgnoredNamespaces() {
  static const auto* kIgnored = new std::set<std::string>{"kube-system", "kube-public", "kube-node-lease",
                                                          "local-path-storage"};
  return *kIgnored;
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
      "securityContext", "stdin", "stdinOnce", "tty",
      // The nested structs' own orders (no two of them share a member name with a different place):
      // corev1.SecurityContext,
      "capabilities", "privileged", "seLinuxOptions", "windowsOptions", "runAsUser", "runAsGroup", "runAsNonRoot",
      "readOnlyRootFilesystem", "allowPrivilegeEscalation", "procMount", "seccompProfile", "appArmorProfile",
      // ContainerPort, EnvVar, VolumeMount,
      "hostPort", "containerPort", "protocol", "hostIP", "value", "valueFrom", "readOnly", "recursiveReadOnly",
      "mountPath", "subPath", "mountPropagation", "subPathExpr",
      // Probe (ProbeHandler first) and HTTPGetAction.
      "exec", "httpGet", "tcpSocket", "grpc", "initialDelaySeconds", "timeoutSeconds", "periodSeconds",
      "successThreshold", "failureThreshold", "terminationGracePeriodSeconds", "path", "port", "host", "scheme",
      "httpHeaders"};
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

// Puts the items of `list` named in `from_template` first, in the template's order, and
// the pod's own after them in theirs: the order of istiod's strategic merge of the
// rendered template (the patch) over the pod, for lists it does not reorder later (volumes).
void TemplateItemsFirst(const JsonList& from_template, JsonList& list) {
  std::vector<JsonValue> ordered;
  std::vector<bool> taken(list.values_size(), false);
  for (const auto& t : from_template.values()) {
    const std::string name = StringAt(t.struct_value(), "name");
    for (int i = 0; i < list.values_size(); ++i) {
      if (!taken[i] && StringAt(list.values(i).struct_value(), "name") == name) {
        ordered.push_back(list.values(i));
        taken[i] = true;
        break;
      }
    }
  }
  for (int i = 0; i < list.values_size(); ++i) {
    if (!taken[i]) ordered.push_back(list.values(i));
  }
  list.clear_values();
  for (auto& v : ordered) *list.add_values() = std::move(v);
}

// Every container's resource quantities in canonical form, as istiod's patch (a diff of
// the pod it parsed into Go structs) writes them.
void CanonicalizeResources(JsonList& containers) {
  for (auto& c : *containers.mutable_values()) {
    if (!c.has_struct_value()) continue;
    auto& fields = *c.mutable_struct_value()->mutable_fields();
    auto resources = fields.find("resources");
    if (resources == fields.end() || !resources->second.has_struct_value()) continue;
    for (auto& [group, quantities] : *resources->second.mutable_struct_value()->mutable_fields()) {
      if (!quantities.has_struct_value()) continue;
      for (auto& [name, q] : *quantities.mutable_struct_value()->mutable_fields()) {
        if (!q.has_string_value()) continue;
        if (auto canonical = CanonicalQuantity(q.string_value())) q.set_string_value(*canonical);
      }
    }
  }
}

// istiod's adjustInitContainerUser (REDIRECT, no CNI): a user's own istio-proxy that
// runs as another non-zero uid has istio-init exclude that uid's traffic instead (-u).
void AdjustInitContainerUser(const JsonList& original_containers, JsonList& init_containers) {
  double uid = 0;
  for (const auto& c : original_containers.values()) {
    if (StringAt(c.struct_value(), "name") != kProxyContainerName) continue;
    const JsonValue* run_as = Member(ObjectAt(c.struct_value(), "securityContext"), "runAsUser");
    if (run_as != nullptr && run_as->has_number_value()) uid = run_as->number_value();
  }
  if (uid == 0) return;
  for (auto& c : *init_containers.mutable_values()) {
    if (StringAt(c.struct_value(), "name") != kInitContainerName) continue;
    auto& args = *(*c.mutable_struct_value()->mutable_fields())["args"].mutable_list_value()->mutable_values();
    for (int i = 0; i + 1 < args.size(); ++i) {
      if (args[i].string_value() == "-u") {
        args[i + 1] = Str(std::to_string(static_cast<int64_t>(uid)));
        return;
      }
    }
  }
}

}  // namespace

DeployMeta DeployMetaFromPod(const JsonObject& metadata) {
  std::optional<kube::ControllerRef> controller;
  for (const auto& ref : ListAt(metadata, "ownerReferences").values()) {
    const JsonObject& r = ref.struct_value();
    const JsonValue* is_controller = Member(r, "controller");
    if (is_controller == nullptr || !is_controller->bool_value()) continue;
    controller = kube::ControllerRef{StringAt(r, "apiVersion"), StringAt(r, "kind"), StringAt(r, "name")};
    break;
  }
  return kube::DeployMetaOf(StringAt(metadata, "name"), !StringAt(metadata, "generateName").empty(),
                            controller ? &*controller : nullptr,
                            Get(StringMapAt(metadata, "labels"), "pod-template-hash"));
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
  const std::string template_name = Annotation(annotations, kInjectTemplates, "sidecar");
  using Render = RenderedTemplate (*)(const TemplateInput&, const InjectionConfig&);
  static const auto* kTemplates = new std::map<std::string, Render>{
      {"sidecar", RenderSidecarTemplate}, {"gateway", RenderGatewayTemplate}, {"grpc-agent", RenderGrpcAgentTemplate}};
  auto render = kTemplates->find(template_name);
  if (render == kTemplates->end()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": annotation ", kInjectTemplates, ": template \"",
                                                   template_name,
                                                   "\" is not one Keel knows (known: sidecar, gateway, grpc-agent)"));
  }
  // Only the sidecar template reads the interception annotation (the others: ProxyConfig's, REDIRECT).
  const std::string interception =
      template_name == "sidecar" ? Annotation(annotations, kInterceptionMode, "REDIRECT") : "REDIRECT";
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

  JsonObject& spec = *(*pod.mutable_fields())["spec"].mutable_struct_value();
  TemplateInput in;
  in.ns = ns;
  in.labels = labels;
  in.annotations = annotations;
  in.spec = &spec;
  in.deploy = DeployMetaFromPod(metadata);
  for (const auto& c : ListAt(spec, "containers").values()) {
    if (StringAt(c.struct_value(), "name") != kProxyContainerName) in.app_containers.push_back(StringAt(c.struct_value(), "name"));
  }
  const std::string revision = config.revision.empty() ? "default" : config.revision;
  in.istiod =
      absl::StrCat("istiod", config.revision.empty() ? "" : "-" + config.revision, ".", config.istio_namespace, ".svc:15012");
  auto proxy_config = MergeProxyConfig(config.default_proxy_config_json, Get(annotations, kProxyConfigAnnotation), in.istiod);
  if (!proxy_config.ok()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", proxy_config.status().message()));
  in.proxy_config = *proxy_config;
  in.interception = interception;
  in.agent_status_port = *status_port;
  in.readiness_initial_delay = *initial_delay;
  in.readiness_period = *period;
  in.readiness_failure = *failure;
  const RenderedTemplate rendered = render->second(in, config);
  // istiod's reorderPod reads the hold setting whichever template ran.
  const bool hold_application =
      proxy_config->hold_application_until_proxy_starts || config.hold_application_until_proxy_starts;

  // The sidecar.istio.io/status annotation lists what the template injected.
  std::vector<std::string> volume_names;
  for (const auto& v : rendered.volumes.values()) volume_names.push_back(ToJson(Str(StringAt(v.struct_value(), "name"))));
  std::vector<std::string> container_names = {ToJson(Str(kProxyContainerName))};
  for (const auto& patch : rendered.app_container_patches) container_names.push_back(ToJson(Str(StringAt(patch, "name"))));
  const std::string status = absl::StrCat(
      "{\"initContainers\":", rendered.init_container ? absl::StrCat("[\"", kInitContainerName, "\"]") : "null",
      ",\"containers\":[", absl::StrJoin(container_names, ","), "],\"volumes\":[", absl::StrJoin(volume_names, ","),
      "],\"imagePullSecrets\":null,\"revision\":", ToJson(Str(revision)), "}");

  // Merge into the pod (istiod: the template as a strategic merge patch over the pod,
  // then the user's own istio-init / istio-proxy re-applied over the injected ones and
  // recorded, as reapplyOverwrittenContainers, for a later re-injection).
  JsonList& containers = *(*spec.mutable_fields())["containers"].mutable_list_value();
  std::vector<JsonValue> overridden_init, overridden;
  if (rendered.init_container) {
    JsonList& init_containers = *(*spec.mutable_fields())["initContainers"].mutable_list_value();
    if (auto o = MergeByName(init_containers, Obj(*rendered.init_container))) overridden_init.push_back(Obj(*o));
    AdjustInitContainerUser(ListAt(spec_value->struct_value(), "containers"), init_containers);
  }
  // The template's env first, then what the pod's own istio-proxy adds (a strategic merge keyed by name).
  JsonObject proxy = rendered.proxy;
  (*proxy.mutable_fields())["env"] = List(rendered.env);
  if (auto o = MergeByName(containers, Obj(proxy))) overridden.push_back(Obj(*o));
  // The template's app containers (grpc-agent) are the pod's own re-applied over the
  // template's, so recorded as overrides too.
  for (const auto& patch : rendered.app_container_patches) {
    if (auto o = MergeByName(containers, Obj(patch))) overridden.push_back(Obj(*o));
  }
  JsonList& pod_volumes = *(*spec.mutable_fields())["volumes"].mutable_list_value();
  for (const auto& v : rendered.volumes.values()) MergeByName(pod_volumes, v);
  TemplateItemsFirst(rendered.volumes, pod_volumes);
  if (rendered.pod_sysctls) {
    (*(*spec.mutable_fields())["securityContext"].mutable_struct_value()->mutable_fields())["sysctls"] =
        *rendered.pod_sysctls;
  }

  if (rendered.tls_mode_label) labels.emplace(kTlsModeLabel, "istio");
  labels[kCanonicalNameLabel] = CanonicalName(FirstNonEmpty(
      {Get(labels, kCanonicalNameLabel), Get(labels, "app.kubernetes.io/name"), Get(labels, "app"), in.deploy.name}));
  labels[kCanonicalRevisionLabel] = FirstNonEmpty(
      {Get(labels, kCanonicalRevisionLabel), Get(labels, "app.kubernetes.io/version"), Get(labels, "version"), "latest"});
  annotations[kIstioRev] = revision;
  for (const auto& [k, v] : rendered.annotations) annotations[k] = v;
  if (!in.app_containers.empty()) {
    annotations.emplace(kDefaultLogsContainer, in.app_containers[0]);
    annotations.emplace(kDefaultContainer, in.app_containers[0]);
  }

  // Post-processing (istiod's postProcessPod): Prometheus merge, probe rewrite, status, order.
  const int agent_status_port = in.agent_status_port;
  JsonObject* sidecar = nullptr;
  for (auto& c : *containers.mutable_values()) {
    if (StringAt(c.struct_value(), "name") == kProxyContainerName) sidecar = c.mutable_struct_value();
  }
  JsonList& sidecar_env = *(*sidecar->mutable_fields())["env"].mutable_list_value();
  // istiod's extractClusterAndNetwork + overwriteClusterInfo: the URL's env, the
  // cluster (values, else the URL's) and the network (values, the URL's, the pod's
  // label: the last set wins) replace the template's entries and move to the end, sorted.
  std::map<std::string, std::string> cluster_env = config.path_envs;
  if (Get(cluster_env, "ISTIO_META_CLUSTER_ID").empty() && !config.cluster_name.empty() &&
      config.cluster_name != "Kubernetes") {
    cluster_env["ISTIO_META_CLUSTER_ID"] = config.cluster_name;
  }
  if (std::string network = FirstNonEmpty({Get(labels, kNetworkLabel), Get(config.path_envs, "ISTIO_META_NETWORK"),
                                           config.network});
      !network.empty()) {
    cluster_env["ISTIO_META_NETWORK"] = network;
    labels[kNetworkLabel] = network;
  }
  if (!cluster_env.empty()) {
    JsonList kept;
    for (const auto& e : sidecar_env.values()) {
      if (cluster_env.count(StringAt(e.struct_value(), "name")) == 0) *kept.add_values() = e;
    }
    for (const auto& [name, value] : cluster_env) *kept.add_values() = Env(name, value);
    sidecar_env = std::move(kept);
  }
  bool merge = config.prometheus_merge;
  if (auto it = annotations.find(kPrometheusMergeMetrics); it != annotations.end()) merge = it->second != "false";
  if (Get(annotations, "prometheus.io/scrape") != "false" && merge &&
      Get(annotations, "prometheus.io/port") != std::to_string(config.status_port)) {
    if (annotations.count("prometheus.io/scrape") || annotations.count("prometheus.io/path") ||
        annotations.count("prometheus.io/port")) {
      *sidecar_env.add_values() = Env("ISTIO_PROMETHEUS_ANNOTATIONS",
                                      absl::StrCat("{\"scrape\":", ToJson(Str(Get(annotations, "prometheus.io/scrape"))),
                                                   ",\"path\":", ToJson(Str(Get(annotations, "prometheus.io/path"))),
                                                   ",\"port\":", ToJson(Str(Get(annotations, "prometheus.io/port"))), "}"));
    }
    // The mesh's status port, not the pod's annotation (istiod's applyPrometheusMerge).
    annotations["prometheus.io/port"] = std::to_string(config.status_port);
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
      CanonicalizeResources(out);
    }
    annotations[kProxyOverrides] = ToJsonInOrder(overrides, ContainerFieldOrder());
  }
  for (const auto& [k, v] : config.injected_annotations) annotations[k] = v;
  JsonList& final_containers = *(*spec.mutable_fields())["containers"].mutable_list_value();
  MoveContainer(final_containers, kProxyContainerName, hold_application);
  if (rendered.init_container) {
    MoveContainer(*(*spec.mutable_fields())["initContainers"].mutable_list_value(), kInitContainerName, false);
  }

  (*metadata.mutable_fields())["labels"] = StringMap(labels);
  (*metadata.mutable_fields())["annotations"] = StringMap(annotations);
  outcome.injected = true;
  outcome.pod = std::move(pod);
  return outcome;
}

}  // namespace keel::pilot::inject
