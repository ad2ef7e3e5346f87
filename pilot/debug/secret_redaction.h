// Key material out of debug output, as istiod's config dump does it
// (pilot/pkg/xds/debug.go: an SDS Secret's tls_certificate.private_key becomes
// inline_bytes "[redacted]").
#pragma once

#include <google/protobuf/any.pb.h>

namespace keel::pilot::debug {

// What istiod writes in place of a private key.
inline constexpr char kRedacted[] = "[redacted]";

// `resource` for a debug dump. An SDS Secret (tls.v3.Secret) comes back with
// every secret value replaced by inline_bytes kRedacted: tls_certificate's
// private_key (always, as istiod: also when it was unset), password and pkcs12
// (when set), generic_secret.secret and each session_ticket_keys key (when set).
// Certificates and validation contexts stay (they are public). A Secret that
// does not parse becomes an empty Secret (nothing of it is shown). Any other type
// is returned as it is: Keel's listeners and clusters name keys by file path or
// SDS resource, never inline.
google::protobuf::Any RedactForDebug(const google::protobuf::Any& resource);

}  // namespace keel::pilot::debug
