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

constexpr char kConfigsPath[] = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations";

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

WebhookCertPatcher::WebhookCertPatcher(kube::KubeClient* client, std::string revision,
                                       std::function<std::string()> roots, kube::InformerOptions informer_options)
    : client_(client),
      revision_(std::move(revision)),
      roots_(std::move(roots)),
      queue_("webhook patcher", [this](const std::string& name) { return Reconcile(name); }) {
  configs_ = std::make_unique<kube::Informer>(
      client_,
      kube::ResourceRef{"admissionregistration.k8s.io", {"v1"}, "mutatingwebhookconfigurations", "", "",
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
  const std::string path = absl::StrCat(kConfigsPath, "/", name);
  auto current = client_->Request("GET", path);
  if (!current.ok()) return current.status();
  if (current->status == 404) return absl::OkStatus();  // the informer brings the delete
  if (current->status != 200) return kube::HttpStatusToStatus(current->status, current->body);
  Struct config;
  if (auto st = google::protobuf::util::JsonStringToMessage(current->body, &config); !st.ok()) {
    return absl::InternalError(absl::StrCat("MutatingWebhookConfiguration ", name, ": bad JSON: ", st.ToString()));
  }
  // istiod re-checks the label on the object it writes: two revisions must not fight over one configuration.
  if (StringAt(config, {"metadata", "labels", "istio.io/rev"}) != revision_) return absl::OkStatus();
  const std::string resource_version = StringAt(config, {"metadata", "resourceVersion"});
  // The patch tests what it read (the resourceVersion, each patched webhook's name) before writing.
  std::string ops = absl::StrCat(R"({"op":"test","path":"/metadata/resourceVersion","value":)",
                                 Quoted(resource_version), "}");
  int matched = 0, stale = 0;
  const Value* webhooks = Field(config, "webhooks");
  const int count = webhooks && webhooks->has_list_value() ? webhooks->list_value().values_size() : 0;
  for (int i = 0; i < count; ++i) {
    const Value& hook = webhooks->list_value().values(i);
    if (!hook.has_struct_value()) continue;
    const std::string hook_name = StringAt(hook.struct_value(), {"name"});
    if (!absl::EndsWith(hook_name, kInjectorWebhookSuffix)) continue;
    ++matched;
    if (StringAt(hook.struct_value(), {"clientConfig", "caBundle"}) == ca_bundle) continue;
    ++stale;
    absl::StrAppend(&ops, R"(,{"op":"test","path":"/webhooks/)", i, R"(/name","value":)", Quoted(hook_name), "}",
                    R"(,{"op":"add","path":"/webhooks/)", i, R"(/clientConfig/caBundle","value":)", Quoted(ca_bundle),
                    "}");
  }
  if (matched == 0) {
    spdlog::debug("webhook patcher: {} has no webhook named *{}: nothing to patch", name, kInjectorWebhookSuffix);
    return absl::OkStatus();
  }
  if (stale == 0) return absl::OkStatus();
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
  spdlog::info("webhook patcher: set the caBundle of {} webhook(s) of MutatingWebhookConfiguration {}", stale, name);
  return absl::OkStatus();
}

}  // namespace keel::pilot::inject
