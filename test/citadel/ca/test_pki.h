// Test PKI built with the OpenSSL API: roots, intermediates, leaves and CSRs
// with exactly the properties a test needs (a CA without a key identifier, a
// non-CA certificate, a CSR whose signature does not match its key, ...).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "citadel/ca/key_cert_bundle.h"
#include "pkg/crypto/openssl.h"

namespace keel::citadel::testing {

struct TestCert {
  crypto::X509Ptr cert;
  crypto::EvpPkeyPtr key;
  std::string cert_pem;
  std::string key_pem;
};

struct TestCertOptions {
  std::string common_name = "test";
  bool ca = true;                       // basicConstraints CA:TRUE + keyCertSign, else CA:FALSE leaf
  bool subject_key_id = true;           // add subjectKeyIdentifier (and authorityKeyIdentifier)
  absl::Duration ttl = absl::Hours(24);
  crypto::KeyType key_type = crypto::KeyType::kEcdsaP256;
};

// Self-signed when `issuer` is null. Aborts the test binary on OpenSSL failure
// (never happens with valid options).
TestCert MakeCert(const TestCertOptions& options, const TestCert* issuer = nullptr);

// root -> intermediate(s) as Istio's plugged-in layout: ca-cert.pem is the
// last intermediate, cert-chain.pem the intermediates (closest first) then the
// root, root-cert.pem the root.
struct TestPki {
  TestCert root;
  std::vector<TestCert> intermediates;  // [0] issued by root, [i] by [i-1]
  ca::CaFiles files;
};
TestPki MakePluggedInPki(int intermediates, crypto::KeyType key_type = crypto::KeyType::kEcdsaP256);

// A CSR for `key` with the given subject common name / organization (empty:
// none) and SANs.
std::string MakeCsr(EVP_PKEY* key, const std::string& common_name, const std::string& organization,
                    const std::vector<std::string>& uri_sans, const std::vector<std::string>& dns_sans);

// A CSR signed by `signer` but carrying `claimed`'s public key: well-formed,
// and its signature does not verify.
std::string MakeMismatchedCsr(EVP_PKEY* signer, EVP_PKEY* claimed);

crypto::EvpPkeyPtr NewKey(crypto::KeyType type);

// Verifies `leaf` against the roots in `roots_pem`, with `untrusted` as
// intermediates, for the given X509_PURPOSE_* (0: none). Returns "" when it
// verifies, else OpenSSL's reason.
std::string Verify(X509* leaf, const std::string& roots_pem, const std::vector<std::string>& untrusted_pem,
                   int purpose = 0);

// All SubjectAltName entries as "URI:..." / "DNS:..." strings.
std::vector<std::string> SubjectAltNames(X509* cert);

}  // namespace keel::citadel::testing
