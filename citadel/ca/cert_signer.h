// CertSigner: signs workload certificates. IstioCa is the implementation;
// the interface is the seam the CA server and its tests use.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "citadel/ca/key_cert_bundle.h"

namespace keel::citadel::ca {

struct CaOptions {
  std::string trust_domain = "cluster.local";
  crypto::KeyType key_type = crypto::KeyType::kRsa2048;
  absl::Duration default_ttl = absl::Hours(24);       // istiod DEFAULT_WORKLOAD_CERT_TTL
  absl::Duration max_ttl = absl::Hours(24 * 90);      // istiod MAX_WORKLOAD_CERT_TTL
  absl::Duration root_ttl = absl::Hours(24 * 3650);   // istiod CITADEL_SELF_SIGNED_CA_CERT_TTL
  double root_grace_ratio = 0.2;  // renew the root when this fraction of its life is left
};

struct SignRequest {
  std::string csr_pem;
  std::vector<std::string> uri_sans;  // the authenticated identities; the CSR's own SANs are ignored
  std::vector<std::string> dns_sans;  // only for Keel's own serving certificate
  absl::Duration ttl = absl::ZeroDuration();  // zero: the default
};

class CertSigner {
 public:
  virtual ~CertSigner() = default;
  // The chain, PEM each: leaf, intermediates, root. Errors: InvalidArgument for a
  // CSR that does not parse, whose signature does not verify or whose key is
  // too weak (CheckPublicKeyStrength), and for a TTL
  // that is negative or above the maximum; Unavailable when no CA is loaded.
  virtual absl::StatusOr<std::vector<std::string>> Sign(const SignRequest& request) const = 0;
  // The roots workloads should trust (PEM bundle).
  virtual std::string RootsPem() const = 0;
};

class IstioCa final : public CertSigner {
 public:
  IstioCa(CaOptions options, KeyCertBundlePtr bundle) : options_(std::move(options)), bundle_(std::move(bundle)) {}

  absl::StatusOr<std::vector<std::string>> Sign(const SignRequest& request) const override;
  std::string RootsPem() const override;

  // Swaps in a new bundle (root rotation, a changed `cacerts`). Thread-safe.
  void SetBundle(KeyCertBundlePtr bundle);
  KeyCertBundlePtr bundle() const;
  const CaOptions& options() const { return options_; }

 private:
  const CaOptions options_;
  mutable std::mutex mu_;
  KeyCertBundlePtr bundle_ ABSL_GUARDED_BY(mu_);
};

// The weakest keys a CSR may carry (NIST SP 800-57's 112-bit floor).
inline constexpr int kMinRsaBits = 2048;
inline constexpr int kMinEcBits = 256;

// OK for RSA (and RSA-PSS) of at least kMinRsaBits, EC on a curve of at least
// kMinEcBits (P-256, P-384, P-521), Ed25519 and Ed448; else InvalidArgument
// naming the key ("CSR: RSA key of 1024 bits is too weak ...").
absl::Status CheckPublicKeyStrength(EVP_PKEY* key);

// A new self-signed root as istiod makes one: O=<trust domain>, CA:TRUE,
// keyCertSign|cRLSign, `options.root_ttl` long. `previous_roots_pem` (during a
// rotation) is appended to root-cert.pem so both roots stay trusted.
absl::StatusOr<CaFiles> CreateSelfSignedRoot(const CaOptions& options, const std::string& previous_roots_pem = "");

// True when less than `grace_ratio` of the certificate's lifetime is left at `now`.
bool InGracePeriod(X509* cert, double grace_ratio, absl::Time now);

}  // namespace keel::citadel::ca
