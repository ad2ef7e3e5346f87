#include "pilot/inject/webhook_cert_patcher.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "pkg/metrics/registry.h"

namespace keel::pilot::inject {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

constexpr char kConfigsPath[] = "/apis/admissionregistration.k8s.io/v1/";

const Value* Field(const Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  return it == s.fields().end() ? nullptr : &it->second;
}

std::string StringAt(const Struct& s, std::initializer_list<const char*> path) {
  const Struct* cur = &s;
  const Value* v = nullptr;
  for (const char* name : path) {
    if (!cur || !(v = Field(*cur, name))) return "";
    cur = v->has_struct_value() ? &v->struct_value() : nullptr;
  }
  return v && v->has_string_value() ? v->string_value() : "";
}

// A JSON string literal (quotes and escapes) of `s`.
std::string Quoted(const std::string& s) {
  Value v;
  v.set_string_value(s);
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(v, &out);
  return out;
}

void CountAttempt(const std::string& name) {
  metrics::DefaultRegistry()
      .GetCounter("webhook_patch_attempts_total", "Webhook patching attempts", {{"name", name}})
      .Inc();
}

void CountRetry(const std::string& name) {
  metrics::DefaultRegistry()
      .GetCounter("webhook_patch_retries_total", "Webhook patching retries", {{"name", name}})
      .Inc();
}

}  // namespace

WebhookConfigurationKind WebhookConfigurationKind::Injector() {
  return {"mutatingwebhookconfigurations", "MutatingWebhookConfiguration", kInjectorWebhookSuffix, false, ""};
}

WebhookConfigurationKind WebhookConfigurationKind::Validator(const std::string& system_namespace) {
  return {"validatingwebhookconfigurations", "ValidatingWebhookConfiguration", "validation.istio.io", true,
          system_namespace};
}

WebhookCertPatcher::WebhookCertPatcher(kube::KubeClient* client, std::string revision,
                                       std::function<std::string()> roots, kube::InformerOptions informer_options,
                                       WebhookConfigurationKind kind)
    : client_(client),
      kind_(std::move(kind)),
      revision_(std::move(revision)),
      roots_(std::move(roots)),
      queue_("webhook patcher", [this](const std::string& name) { return Reconcile(name); }) {
  configs_ = std::make_unique<kube::Informer>(
      client_,
      kube::ResourceRef{"admissionregistration.k8s.io", {"v1"}, kind_.resource, "", "",
                        absl::StrCat("istio.io/rev=", revision_)},
      [this](std::vector<kube::InformerEvent> events) {
        for (const auto& e : events) queue_.Observe(e.name, e.type != kube::EventType::kDeleted);
      },
      informer_options);
}

WebhookCertPatcher::~WebhookCertPatcher() { Stop(); }

void WebhookCertPatcher::Start() {
  queue_.Start();
  configs_->Start();
}

void WebhookCertPatcher::Stop() {
  configs_->Stop();
  queue_.Stop();
}

void WebhookCertPatcher::RefreshAll() { queue_.AddAllKnown(); }

uint64_t WebhookCertPatcher::patches() const {
  absl::MutexLock lock(&mu_);
  return patches_;
}

absl::Status WebhookCertPatcher::Reconcile(const std::string& name) {
  if (!queue_.Known(name)) return absl::OkStatus();  // deleted, or relabelled away from this revision
  const std::string roots = roots_();
  if (roots.empty()) return absl::OkStatus();
  const std::string ca_bundle = absl::Base64Escape(roots);
  const std::string path = absl::StrCat(kConfigsPath, kind_.resource, "/", name);
  auto current = client_->Request("GET", path);
  if (!current.ok()) return current.status();
  if (current->status == 404) return absl::OkStatus();  // the informer brings the delete
  if (current->status != 200) return kube::HttpStatusToStatus(current->status, current->body);
  Struct config;
  if (auto st = google::protobuf::util::JsonStringToMessage(current->body, &config); !st.ok()) {
    return absl::InternalError(absl::StrCat(kind_.kind, " ", name, ": bad JSON: ", st.ToString()));
  }
  // istiod re-checks the label on the object it writes: two revisions must not fight over one configuration.
  if (StringAt(config, {"metadata", "labels", "istio.io/rev"}) != revision_) return absl::OkStatus();
  const std::string resource_version = StringAt(config, {"metadata", "resourceVersion"});
  // The patch tests what it read (the resourceVersion, each patched webhook's name) before writing.
  std::string ops = absl::StrCat(R"({"op":"test","path":"/metadata/resourceVersion","value":)",
                                 Quoted(resource_version), "}");
  int matched = 0, stale = 0, failing_open = 0;
  std::string fail_ops;  // failurePolicy Fail, once the webhook is seen serving
  const Value* webhooks = Field(config, "webhooks");
  const int count = webhooks && webhooks->has_list_value() ? webhooks->list_value().values_size() : 0;
  for (int i = 0; i < count; ++i) {
    const Value& hook = webhooks->list_value().values(i);
    if (!hook.has_struct_value()) continue;
    const std::string hook_name = StringAt(hook.struct_value(), {"name"});
    if (!absl::EndsWith(hook_name, kind_.webhook_suffix)) continue;
    ++matched;
    if (kind_.fail_closed_once_serving && StringAt(hook.struct_value(), {"failurePolicy"}) != "Fail") {
      ++failing_open;
      absl::StrAppend(&fail_ops, R"(,{"op":"test","path":"/webhooks/)", i, R"(/name","value":)", Quoted(hook_name), "}",
                      R"(,{"op":"add","path":"/webhooks/)", i, R"(/failurePolicy","value":"Fail"})");
    }
    if (StringAt(hook.struct_value(), {"clientConfig", "caBundle"}) == ca_bundle) continue;
    ++stale;
    absl::StrAppend(&ops, R"(,{"op":"test","path":"/webhooks/)", i, R"(/name","value":)", Quoted(hook_name), "}",
                    R"(,{"op":"add","path":"/webhooks/)", i, R"(/clientConfig/caBundle","value":)", Quoted(ca_bundle),
                    "}");
  }
  if (matched == 0) {
    spdlog::debug("webhook patcher: {} has no webhook named *{}: nothing to patch", name, kind_.webhook_suffix);
    return absl::OkStatus();
  }
  if (stale == 0 && failing_open > 0) {
    // The caBundle is current: fail closed once the API server is seen calling Keel.
    if (auto st = CheckWebhookServes(); !st.ok()) return st;
    ops += fail_ops;
  } else if (stale == 0) {
    return absl::OkStatus();
  }
  CountAttempt(name);
  auto patched = client_->Request("PATCH", path, absl::StrCat("[", ops, "]"), "application/json-patch+json");
  if (!patched.ok()) {
    CountRetry(name);
    return patched.status();
  }
  if (patched->status == 404) return absl::OkStatus();
  if (patched->status != 200) {
    CountRetry(name);
    // 422 (a test failed: edited since the GET) and 409 are retried with a fresh read.
    return kube::HttpStatusToStatus(patched->status, patched->body);
  }
  absl::MutexLock lock(&mu_);
  ++patches_;
  if (stale > 0) {
    spdlog::info("webhook patcher: set the caBundle of {} webhook(s) of {} {}", stale, kind_.kind, name);
    // Failing open still: reconciled again (the queue's backoff), to check and then fail closed.
    return failing_open > 0 ? absl::UnavailableError("caBundle written; failurePolicy Fail once the webhook serves")
                            : absl::OkStatus();
  }
  spdlog::info("webhook patcher: {} webhook(s) of {} {} fail closed now (failurePolicy Fail)", failing_open,
               kind_.kind, name);
  return absl::OkStatus();
}

absl::Status WebhookCertPatcher::CheckWebhookServes() const {
  // istiod's checkDryRunConfig: an object every validator refuses (two routes weighing 0 in all), created
  // with dryRun so nothing is stored; labelled for this revision's objectSelector.
  const std::string body = absl::StrCat(
      R"({"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":"keel-validation-check",)",
      R"("namespace":)", Quoted(kind_.check_namespace), R"(,"labels":{"istio.io/rev":)", Quoted(revision_),
      R"(}},"spec":{"hosts":["keel-validation-check"],"http":[{"route":[)",
      R"({"destination":{"host":"a"},"weight":0},{"destination":{"host":"b"},"weight":0}]}]}})");
  auto reply = client_->Request(
      "POST", absl::StrCat("/apis/networking.istio.io/v1/namespaces/", kind_.check_namespace, "/virtualservices?dryRun=All"),
      body);
  if (!reply.ok()) return reply.status();
  if (reply->status >= 400 && absl::StrContains(reply->body, "denied the request")) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("the validation webhook is not called yet (dry-run create answered ",
                                             reply->status, ")"));
}

}  // namespace keel::pilot::inject
