#include "pilot/debug/secret_redaction.h"

#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "pilot/xds/resource_types.h"

namespace keel::pilot::debug {
namespace {

using envoy::config::core::v3::DataSource;

void Redact(DataSource* source) { source->set_inline_bytes(kRedacted); }

}  // namespace

google::protobuf::Any RedactForDebug(const google::protobuf::Any& resource) {
  if (resource.type_url() != xds::kSecretType) return resource;
  envoy::extensions::transport_sockets::tls::v3::Secret secret;
  if (!resource.UnpackTo(&secret)) secret.Clear();
  if (secret.has_tls_certificate()) {
    auto* cert = secret.mutable_tls_certificate();
    Redact(cert->mutable_private_key());
    if (cert->has_password()) Redact(cert->mutable_password());
    if (cert->has_pkcs12()) Redact(cert->mutable_pkcs12());
  }
  if (secret.has_generic_secret() && secret.generic_secret().has_secret()) {
    Redact(secret.mutable_generic_secret()->mutable_secret());
  }
  if (secret.has_session_ticket_keys()) {
    for (auto& key : *secret.mutable_session_ticket_keys()->mutable_keys()) Redact(&key);
  }
  google::protobuf::Any out;
  out.PackFrom(secret);
  return out;
}

}  // namespace keel::pilot::debug
