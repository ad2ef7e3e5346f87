#include "pilot/networking/gateway/secret_builder.h"

#include <map>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "keel/k8s/v1/objects.pb.h"
#include "pilot/networking/gateway/tls_context.h"

namespace keel::pilot::networking::gateway {
namespace {

namespace k8s = ::keel::k8s::v1;
namespace tls = ::envoy::extensions::transport_sockets::tls::v3;

constexpr char kKubernetesPrefix[] = "kubernetes://";

// The Secret's data, decoded; stringData wins. Values that are not base64 are
// left out (the API server would have refused them).
absl::StatusOr<std::map<std::string, std::string>> SecretData(const model::Config& config) {
  const auto& secret = config.As<k8s::Secret>();
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : secret.data()) {
    std::string decoded;
    if (!absl::Base64Unescape(v, &decoded)) {
      return absl::InvalidArgumentError(
          absl::StrCat("Secret ", config.key.ns, "/", config.key.name, ": data.", k, " is not base64"));
    }
    out[k] = std::move(decoded);
  }
  for (const auto& [k, v] : secret.string_data()) out[k] = v;
  return out;
}

const model::Config* FindSecret(const model::PushContext& push, const std::string& ns, const std::string& name) {
  auto it = push.configs()->find(model::ConfigKey{model::Kind::kSecret, ns, name});
  return it == push.configs()->end() ? nullptr : it->second.get();
}

bool HasValue(const std::map<std::string, std::string>& d, const char* key) {
  auto it = d.find(key);
  return it != d.end() && !it->second.empty();
}

// Names of the keys a Secret has, for error messages (never values).
std::string KeyNames(const std::map<std::string, std::string>& d) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : d) keys.push_back(k);
  return keys.empty() ? "none" : absl::StrJoin(keys, ", ");
}

void SetInline(const std::string& bytes, envoy::config::core::v3::DataSource* out) { out->set_inline_bytes(bytes); }

}  // namespace

absl::StatusOr<SecretResource> ParseSecretResource(const std::string& resource_name, const std::string& proxy_ns) {
  if (!absl::StartsWith(resource_name, kKubernetesPrefix)) {
    return absl::InvalidArgumentError(
        absl::StrCat("SDS resource \"", resource_name, "\": only kubernetes:// credentials are served"));
  }
  std::vector<std::string> parts =
      absl::StrSplit(absl::string_view(resource_name).substr(sizeof(kKubernetesPrefix) - 1), '/');
  SecretResource r;
  r.resource_name = resource_name;
  if (parts.size() == 1) {
    r.ns = proxy_ns;
    r.name = parts[0];
  } else if (parts.size() == 2) {
    r.ns = parts[0];
    r.name = parts[1];
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("SDS resource \"", resource_name, "\": want kubernetes://[NAMESPACE/]NAME"));
  }
  if (r.ns.empty() || r.name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("SDS resource \"", resource_name, "\": want kubernetes://[NAMESPACE/]NAME"));
  }
  r.ca_only = absl::EndsWith(r.name, kSdsCaSuffix);
  return r;
}

absl::StatusOr<tls::Secret> BuildSecret(const std::string& resource_name, const model::Proxy& proxy,
                                        const model::PushContext& push) {
  auto parsed = ParseSecretResource(resource_name, proxy.ns);
  if (!parsed.ok()) return parsed.status();
  const SecretResource& r = *parsed;
  if (r.ns != proxy.ns) {
    return absl::PermissionDeniedError(absl::StrCat("SDS resource \"", resource_name, "\": proxy in namespace ",
                                                    proxy.ns, " may only read Secrets of its own namespace"));
  }
  tls::Secret out;
  out.set_name(resource_name);

  if (r.ca_only) {
    const model::Config* config = FindSecret(push, r.ns, r.name);
    if (!config) {
      const std::string stripped = r.name.substr(0, r.name.size() - (sizeof(kSdsCaSuffix) - 1));
      config = FindSecret(push, r.ns, stripped);
      if (!config) return absl::NotFoundError(absl::StrCat("Secret ", r.ns, "/", stripped, " not found"));
    }
    auto data = SecretData(*config);
    if (!data.ok()) return data.status();
    const char* ca_key = HasValue(*data, "cacert") ? "cacert" : HasValue(*data, "ca.crt") ? "ca.crt" : nullptr;
    if (!ca_key) {
      return absl::NotFoundError(absl::StrCat("Secret ", config->key.ns, "/", config->key.name,
                                              " has no cacert or ca.crt; keys: ", KeyNames(*data)));
    }
    auto* v = out.mutable_validation_context();
    SetInline(data->at(ca_key), v->mutable_trusted_ca());
    const char* crl_key = std::string(ca_key) == "cacert" ? "crl" : "ca.crl";
    if (HasValue(*data, crl_key)) SetInline(data->at(crl_key), v->mutable_crl());
    return out;
  }

  const model::Config* config = FindSecret(push, r.ns, r.name);
  if (!config) return absl::NotFoundError(absl::StrCat("Secret ", r.ns, "/", r.name, " not found"));
  auto data = SecretData(*config);
  if (!data.ok()) return data.status();
  auto* cert = out.mutable_tls_certificate();
  if (HasValue(*data, "cert") && HasValue(*data, "key")) {
    SetInline(data->at("cert"), cert->mutable_certificate_chain());
    SetInline(data->at("key"), cert->mutable_private_key());
  } else if (HasValue(*data, "tls.crt") && HasValue(*data, "tls.key")) {
    SetInline(data->at("tls.crt"), cert->mutable_certificate_chain());
    SetInline(data->at("tls.key"), cert->mutable_private_key());
    if (HasValue(*data, "tls.ocsp-staple")) SetInline(data->at("tls.ocsp-staple"), cert->mutable_ocsp_staple());
  } else {
    return absl::NotFoundError(absl::StrCat("Secret ", r.ns, "/", r.name,
                                            " has neither cert and key nor tls.crt and tls.key; keys: ",
                                            KeyNames(*data)));
  }
  return out;
}

}  // namespace keel::pilot::networking::gateway
