// KeyCertBundle: the CA's signing key and certificate, the chain above it, and
// the roots it publishes. Immutable once built; shared as shared_ptr<const>.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pkg/crypto/openssl.h"

namespace keel::citadel::ca {

// The four PEM files of Istio's plugged-in CA layout (Secret `cacerts`):
// ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem. A self-signed root
// keeps only ca-cert.pem and ca-key.pem (Secret `istio-ca-secret`).
struct CaFiles {
  std::string ca_cert;
  std::string ca_key;
  std::string cert_chain;  // may be empty
  std::string root_cert;   // may be empty: then ca_cert is the root
};

class KeyCertBundle {
 public:
  // Checks that the key matches the certificate, that the certificate is a CA
  // and that it verifies against the roots through the chain.
  // Errors: InvalidArgument naming the file at fault.
  static absl::StatusOr<std::shared_ptr<const KeyCertBundle>> Create(const CaFiles& files);

  X509* signing_cert() const { return signing_cert_.get(); }
  EVP_PKEY* signing_key() const { return signing_key_.get(); }
  // PEMs between the signing certificate and the root: the signing certificate
  // itself when it is not a root, then cert-chain.pem's non-root entries.
  const std::vector<std::string>& intermediates_pem() const { return intermediates_pem_; }
  // All trusted roots (the root-cert.pem bundle; during a rotation, old and new).
  const std::string& roots_pem() const { return roots_pem_; }
  // The root the signing certificate verified against (the end of every issued chain).
  const std::string& issuing_root_pem() const { return issuing_root_pem_; }
  const CaFiles& files() const { return files_; }
  bool self_signed() const { return self_signed_; }

 private:
  KeyCertBundle() = default;
  crypto::X509Ptr signing_cert_;
  crypto::EvpPkeyPtr signing_key_;
  std::vector<std::string> intermediates_pem_;
  std::string roots_pem_;
  std::string issuing_root_pem_;
  CaFiles files_;
  bool self_signed_ = false;
};

using KeyCertBundlePtr = std::shared_ptr<const KeyCertBundle>;

}  // namespace keel::citadel::ca
