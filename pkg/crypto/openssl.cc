#include "pkg/crypto/openssl.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace keel::crypto {
namespace {

BioPtr MemBio(absl::string_view data) { return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size()))); }

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, n);
}

int64_t AsnTimeToUnix(const ASN1_TIME* t) {
  struct tm tm {};
  if (!ASN1_TIME_to_tm(t, &tm)) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace

std::string OpenSslErrors() {
  std::vector<std::string> parts;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    parts.emplace_back(buf);
  }
  return absl::StrJoin(parts, "; ");
}

absl::StatusOr<EvpPkeyPtr> GenerateKey(KeyType type) {
  EVP_PKEY* key = type == KeyType::kRsa2048 ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
  if (!key) return absl::InternalError(absl::StrCat("key generation failed: ", OpenSslErrors()));
  return EvpPkeyPtr(key);
}

absl::StatusOr<std::vector<X509Ptr>> ParseCertificates(absl::string_view pem) {
  std::vector<X509Ptr> out;
  BioPtr bio = MemBio(pem);
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(cert);
  ERR_clear_error();  // the loop ends with "no start line"
  if (out.empty()) return absl::InvalidArgumentError("no PEM certificate found");
  return out;
}

absl::StatusOr<X509Ptr> ParseCertificate(absl::string_view pem) {
  auto certs = ParseCertificates(pem);
  if (!certs.ok()) return certs.status();
  return std::move((*certs)[0]);
}

absl::StatusOr<EvpPkeyPtr> ParsePrivateKey(absl::string_view pem) {
  BioPtr bio = MemBio(pem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (!key) return absl::InvalidArgumentError(absl::StrCat("no PEM private key found: ", OpenSslErrors()));
  return EvpPkeyPtr(key);
}

absl::StatusOr<X509ReqPtr> ParseCsr(absl::string_view pem) {
  BioPtr bio = MemBio(pem);
  X509_REQ* req = PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr);
  if (!req) return absl::InvalidArgumentError(absl::StrCat("not a PEM certificate request: ", OpenSslErrors()));
  return X509ReqPtr(req);
}

std::string CertificateToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return BioToString(bio.get());
}

std::string PrivateKeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return BioToString(bio.get());
}

absl::StatusOr<std::string> MakeCsrPem(EVP_PKEY* key, const std::vector<std::string>& uri_sans,
                                       const std::vector<std::string>& dns_sans) {
  X509ReqPtr req(X509_REQ_new());
  X509_REQ_set_version(req.get(), 0);
  X509_REQ_set_pubkey(req.get(), key);
  std::vector<std::string> sans;
  for (const auto& u : uri_sans) sans.push_back("URI:" + u);
  for (const auto& d : dns_sans) sans.push_back("DNS:" + d);
  if (!sans.empty()) {
    STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
    std::string value = absl::StrJoin(sans, ",");
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, value.c_str());
    if (!ext) {
      sk_X509_EXTENSION_free(exts);
      return absl::InvalidArgumentError(absl::StrCat("bad SAN: ", OpenSslErrors()));
    }
    sk_X509_EXTENSION_push(exts, ext);
    X509_REQ_add_extensions(req.get(), exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  }
  if (!X509_REQ_sign(req.get(), key, EVP_sha256())) {
    return absl::InternalError(absl::StrCat("signing the CSR failed: ", OpenSslErrors()));
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  return BioToString(bio.get());
}

int64_t NotAfterUnix(const X509* cert) { return AsnTimeToUnix(X509_get0_notAfter(cert)); }
int64_t NotBeforeUnix(const X509* cert) { return AsnTimeToUnix(X509_get0_notBefore(cert)); }

}  // namespace keel::crypto
