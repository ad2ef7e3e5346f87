// OpenSSL objects owned by unique_ptr, and the few PEM/key operations Keel
// needs. OpenSSL reports errors on a thread-local queue; every failure here is
// returned as an absl::Status carrying that queue's text.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace keel::crypto {

struct X509Free { void operator()(X509* p) const { X509_free(p); } };
struct X509ReqFree { void operator()(X509_REQ* p) const { X509_REQ_free(p); } };
struct EvpPkeyFree { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct BioFree { void operator()(BIO* p) const { BIO_free(p); } };

using X509Ptr = std::unique_ptr<X509, X509Free>;
using X509ReqPtr = std::unique_ptr<X509_REQ, X509ReqFree>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

enum class KeyType { kRsa2048, kEcdsaP256 };

// Drains OpenSSL's error queue into one line ("" when empty).
std::string OpenSslErrors();

absl::StatusOr<EvpPkeyPtr> GenerateKey(KeyType type);

// Every certificate in `pem`, in order. Errors: InvalidArgument when there is none.
absl::StatusOr<std::vector<X509Ptr>> ParseCertificates(absl::string_view pem);
absl::StatusOr<X509Ptr> ParseCertificate(absl::string_view pem);  // the first one
absl::StatusOr<EvpPkeyPtr> ParsePrivateKey(absl::string_view pem);
absl::StatusOr<X509ReqPtr> ParseCsr(absl::string_view pem);

std::string CertificateToPem(X509* cert);
std::string PrivateKeyToPem(EVP_PKEY* key);  // PKCS#8

// A CSR for `key` with the given URI and DNS SANs (for tests, benchmarks and
// Keel's own serving certificate).
absl::StatusOr<std::string> MakeCsrPem(EVP_PKEY* key, const std::vector<std::string>& uri_sans,
                                       const std::vector<std::string>& dns_sans);

// Seconds since the epoch of a certificate's notAfter.
int64_t NotAfterUnix(const X509* cert);
int64_t NotBeforeUnix(const X509* cert);

}  // namespace keel::crypto
