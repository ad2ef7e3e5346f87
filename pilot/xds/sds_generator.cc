#include "pilot/xds/sds_generator.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "pilot/networking/gateway/secret_builder.h"
#include "pilot/xds/monitoring.h"
#include "pkg/log/log_limiter.h"

namespace keel::pilot::xds {
namespace {

namespace gateway = networking::gateway;
using Secret = envoy::extensions::transport_sockets::tls::v3::Secret;

// At most three of `names`, for a log line.
std::string FirstFew(const std::vector<std::string>& names) {
  const size_t n = std::min<size_t>(names.size(), 3);
  return absl::StrCat(absl::StrJoin(names.begin(), names.begin() + n, ", "), names.size() > n ? ", ..." : "");
}

// The names `proxy` may have, of `names` (parseable ones; the rest are left
// for BuildSecret to explain). Logs and counts what it leaves out.
std::vector<std::string> AuthorizedNames(const SubscribedNames& names, const model::Proxy& proxy,
                                         const SecretAuthorizer& authorizer) {
  std::vector<std::string> allowed, elsewhere, unauthorized;
  if (!proxy.verified_identity) {
    monitoring::RecordSdsCertificateError();
    KEEL_WARN_LIMITED("SDS: proxy {} is not authenticated (connect over the TLS port with a token): no "
                      "credentials for it", proxy.id);
    return {};
  }
  const model::ProxyIdentity& identity = *proxy.verified_identity;
  std::optional<absl::Status> authorized;  // reviewed once per generation, when a private key is asked for
  for (const auto& name : names) {
    auto parsed = gateway::ParseSecretResource(name, identity.ns);
    if (!parsed.ok()) {
      allowed.push_back(name);  // not a credential: BuildSecret says why there is none
      continue;
    }
    if (parsed->ns != identity.ns) {  // cross-namespace references are never served
      elsewhere.push_back(name);
      continue;
    }
    if (!parsed->ca_only) {
      if (!authorized) {
        authorized = authorizer ? authorizer(identity)
                                : absl::PermissionDeniedError("no Kubernetes API server to authorize Secret reads");
      }
      if (!authorized->ok()) {
        unauthorized.push_back(name);
        continue;
      }
    }
    allowed.push_back(name);
  }
  if (!elsewhere.empty() || !unauthorized.empty()) {
    monitoring::RecordSdsCertificateError();
    std::vector<std::string> why;
    if (!unauthorized.empty()) why.push_back(absl::StrCat(FirstFew(unauthorized), ": ", authorized->message()));
    if (!elsewhere.empty()) why.push_back(absl::StrCat(FirstFew(elsewhere), ": of another namespace"));
    KEEL_WARN_LIMITED("SDS: proxy {} ({}/{}) may not read {}", proxy.id, identity.ns, identity.service_account,
                      absl::StrJoin(why, "; "));
  }
  return allowed;
}

}  // namespace

std::vector<NamedResource> SdsGenerator::Generate(const model::Proxy& proxy, const model::PushContext& push,
                                                  const WatchedResource& watch) const {
  if (proxy.proxyless_grpc) return {};
  const std::vector<std::string> names = AuthorizedNames(watch.names, proxy, authorizer_);
  // A secret depends only on its name and the proxy's namespace (authorization is
  // decided above, per proxy, before anything cached is handed out).
  return GenerateNamed(names, absl::StrCat("SDS|", proxy.ns), push, [&](const std::string& name) -> std::optional<Secret> {
    auto secret = gateway::BuildSecret(name, proxy, push);
    if (!secret.ok()) {
      monitoring::RecordSdsCertificateError();
      KEEL_WARN_LIMITED("SDS: {} for {}: {}", name, proxy.id, std::string(secret.status().message()));
      return std::nullopt;
    }
    return *std::move(secret);
  });
}

}  // namespace keel::pilot::xds
