#include "citadel/ca/cert_signer.h"

#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace keel::citadel::ca {
namespace {

// Certificates are backdated this much so peers with slightly slow clocks accept them.
constexpr int64_t kClockSkewSeconds = 120;

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return absl::InternalError(absl::StrCat("extension ", OBJ_nid2sn(nid), "=", value, ": ", crypto::OpenSslErrors()));
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return absl::OkStatus();
}

absl::Status SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return absl::InternalError("no randomness for the serial number");
  bytes[0] &= 0x7f;  // positive
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_bin2bn(bytes, sizeof(bytes), nullptr), BN_free);
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert));
  return absl::OkStatus();
}

absl::Status SignCert(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) == 0) {
    return absl::InternalError(absl::StrCat("signing failed: ", crypto::OpenSslErrors()));
  }
  return absl::OkStatus();
}

}  // namespace

bool InGracePeriod(X509* cert, double grace_ratio, absl::Time now) {
  const int64_t nb = crypto::NotBeforeUnix(cert), na = crypto::NotAfterUnix(cert);
  const double left = static_cast<double>(na - absl::ToUnixSeconds(now));
  return left < grace_ratio * static_cast<double>(na - nb);
}

absl::StatusOr<CaFiles> CreateSelfSignedRoot(const CaOptions& options, const std::string& previous_roots_pem) {
  auto key = crypto::GenerateKey(options.key_type);
  if (!key.ok()) return key.status();
  crypto::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  if (auto st = SetRandomSerial(cert.get()); !st.ok()) return st;
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(options.trust_domain.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kClockSkewSeconds);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), absl::ToInt64Seconds(options.root_ttl));
  X509_set_pubkey(cert.get(), key->get());
  for (auto [nid, value] : std::vector<std::pair<int, std::string>>{
           {NID_basic_constraints, "critical,CA:TRUE"},
           {NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign"},
           {NID_subject_key_identifier, "hash"}}) {
    if (auto st = AddExtension(cert.get(), cert.get(), nid, value); !st.ok()) return st;
  }
  if (auto st = SignCert(cert.get(), key->get()); !st.ok()) return st;
  CaFiles files;
  files.ca_cert = crypto::CertificateToPem(cert.get());
  files.ca_key = crypto::PrivateKeyToPem(key->get());
  files.root_cert = files.ca_cert + previous_roots_pem;
  return files;
}

absl::StatusOr<std::vector<std::string>> IstioCa::Sign(const SignRequest& request) const {
  KeyCertBundlePtr bundle = this->bundle();
  if (!bundle) return absl::UnavailableError("the CA is not ready");
  if (request.ttl < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("requested TTL ", absl::FormatDuration(request.ttl), " is negative"));
  }
  if (request.ttl > options_.max_ttl) {
    return absl::InvalidArgumentError(absl::StrCat("requested TTL ", absl::FormatDuration(request.ttl),
                                                   " is greater than the max allowed TTL ",
                                                   absl::FormatDuration(options_.max_ttl)));
  }
  if (request.uri_sans.empty() && request.dns_sans.empty()) {
    return absl::InvalidArgumentError("no identity to put in the certificate");
  }
  auto csr = crypto::ParseCsr(request.csr_pem);
  if (!csr.ok()) return absl::InvalidArgumentError(absl::StrCat("CSR: ", csr.status().message()));
  crypto::EvpPkeyPtr pub(X509_REQ_get_pubkey(csr->get()));
  if (!pub || X509_REQ_verify(csr->get(), pub.get()) != 1) {
    crypto::OpenSslErrors();
    return absl::InvalidArgumentError("CSR: signature does not verify against its public key");
  }
  const absl::Duration ttl = request.ttl == absl::ZeroDuration() ? options_.default_ttl : request.ttl;

  crypto::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  if (auto st = SetRandomSerial(cert.get()); !st.ok()) return st;
  X509_set_issuer_name(cert.get(), X509_get_subject_name(bundle->signing_cert()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kClockSkewSeconds);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), absl::ToInt64Seconds(ttl));
  X509_set_pubkey(cert.get(), pub.get());
  std::vector<std::string> sans;
  for (const auto& u : request.uri_sans) sans.push_back("URI:" + u);
  for (const auto& d : request.dns_sans) sans.push_back("DNS:" + d);
  // Empty subject: the SAN carries the identity and must then be critical (RFC 5280).
  for (auto [nid, value] : std::vector<std::pair<int, std::string>>{
           {NID_basic_constraints, "critical,CA:FALSE"},
           {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
           {NID_ext_key_usage, "serverAuth,clientAuth"},
           {NID_authority_key_identifier, "keyid:always"},
           {NID_subject_alt_name, "critical," + absl::StrJoin(sans, ",")}}) {
    if (auto st = AddExtension(cert.get(), bundle->signing_cert(), nid, value); !st.ok()) return st;
  }
  if (auto st = SignCert(cert.get(), bundle->signing_key()); !st.ok()) return st;

  std::vector<std::string> chain{crypto::CertificateToPem(cert.get())};
  chain.insert(chain.end(), bundle->intermediates_pem().begin(), bundle->intermediates_pem().end());
  // The root that issued the chain (the first of the bundle is the current one).
  auto roots = crypto::ParseCertificates(bundle->roots_pem());
  if (roots.ok()) chain.push_back(crypto::CertificateToPem((*roots)[0].get()));
  return chain;
}

std::string IstioCa::RootsPem() const {
  KeyCertBundlePtr b = bundle();
  return b ? b->roots_pem() : "";
}

void IstioCa::SetBundle(KeyCertBundlePtr bundle) {
  std::lock_guard<std::mutex> lock(mu_);
  bundle_ = std::move(bundle);
}

KeyCertBundlePtr IstioCa::bundle() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bundle_;
}

}  // namespace keel::citadel::ca
