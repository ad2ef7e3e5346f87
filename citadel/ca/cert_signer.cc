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

// notBefore = now - skew, notAfter = now + ttl, both from absl::Now(). OpenSSL's own
// X509_gmtime_adj reads time(), the coarse clock, which can lag clock_gettime by a
// tick: a certificate issued "for one hour" could then end a second before
// absl::Now() + 1h as read by the caller just before the call.
void SetValidity(X509* cert, absl::Duration ttl) {
  time_t now = absl::ToTimeT(absl::Now());  // OpenSSL takes a non-const pointer
  X509_time_adj_ex(X509_getm_notBefore(cert), 0, -kClockSkewSeconds, &now);
  X509_time_adj_ex(X509_getm_notAfter(cert), 0, absl::ToInt64Seconds(ttl), &now);
}

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

// Copies the CSR's SubjectPublicKeyInfo into `cert` as it is (algorithm,
// parameters, key bits). Same result as X509_set_pubkey(cert, pkey), which on
// OpenSSL 3 re-encodes the key through the provider encoders and decoders:
// that round trip was a third of the time of a whole Sign.
absl::Status CopyPublicKey(X509_REQ* csr, X509* cert) {
  ASN1_OBJECT* algorithm = nullptr;
  const unsigned char* bits = nullptr;
  int bits_len = 0;
  X509_ALGOR* algor = nullptr;
  if (X509_PUBKEY_get0_param(&algorithm, &bits, &bits_len, &algor, X509_REQ_get_X509_PUBKEY(csr)) != 1 || !bits) {
    return absl::InvalidArgumentError("CSR: no public key");
  }
  int param_type = V_ASN1_UNDEF;
  const void* param = nullptr;
  X509_ALGOR_get0(nullptr, &param_type, &param, algor);
  void* param_copy = nullptr;
  if (param_type == V_ASN1_OBJECT) {
    param_copy = OBJ_dup(static_cast<const ASN1_OBJECT*>(param));
  } else if (param_type == V_ASN1_SEQUENCE || param_type == V_ASN1_OCTET_STRING) {
    param_copy = ASN1_STRING_dup(static_cast<const ASN1_STRING*>(param));
  } else if (param_type != V_ASN1_NULL && param_type != V_ASN1_UNDEF) {
    return absl::InvalidArgumentError(absl::StrCat("CSR: unsupported public key parameters (type ", param_type, ")"));
  }
  auto* bits_copy = static_cast<unsigned char*>(OPENSSL_memdup(bits, bits_len));
  if (X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(cert), OBJ_dup(algorithm), param_type, param_copy, bits_copy,
                             bits_len) != 1) {
    return absl::InternalError(absl::StrCat("copying the CSR's public key: ", crypto::OpenSslErrors()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckPublicKeyStrength(EVP_PKEY* key) {
  const int bits = EVP_PKEY_get_bits(key);
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
      if (bits < kMinRsaBits) {
        return absl::InvalidArgumentError(
            absl::StrCat("CSR: RSA key of ", bits, " bits is too weak (at least ", kMinRsaBits, " bits)"));
      }
      return absl::OkStatus();
    case EVP_PKEY_EC:
      if (bits < kMinEcBits) {
        char curve[80] = "an unnamed curve";
        size_t len = 0;
        EVP_PKEY_get_utf8_string_param(key, "group", curve, sizeof(curve), &len);
        return absl::InvalidArgumentError(absl::StrCat("CSR: EC key on ", curve, " (", bits,
                                                       " bits) is too weak (P-256 or larger)"));
      }
      return absl::OkStatus();
    case EVP_PKEY_ED25519:
    case EVP_PKEY_ED448:
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(absl::StrCat("CSR: unsupported key type ", OBJ_nid2sn(EVP_PKEY_get_base_id(key)),
                                                     " (RSA of at least ", kMinRsaBits, " bits, or EC P-256 or larger)"));
  }
}

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
  SetValidity(cert.get(), options.root_ttl);
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
  if (auto st = CheckPublicKeyStrength(pub.get()); !st.ok()) return st;
  const absl::Duration ttl = request.ttl == absl::ZeroDuration() ? options_.default_ttl : request.ttl;

  crypto::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  if (auto st = SetRandomSerial(cert.get()); !st.ok()) return st;
  X509_set_issuer_name(cert.get(), X509_get_subject_name(bundle->signing_cert()));
  SetValidity(cert.get(), ttl);
  if (auto st = CopyPublicKey(csr->get(), cert.get()); !st.ok()) return st;
  std::vector<std::string> sans;
  for (const auto& u : request.uri_sans) sans.push_back("URI:" + u);
  for (const auto& d : request.dns_sans) sans.push_back("DNS:" + d);
  // Empty subject: the SAN carries the identity and must then be critical (RFC 5280).
  std::vector<std::pair<int, std::string>> extensions{
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
      {NID_ext_key_usage, "serverAuth,clientAuth"},
      {NID_subject_alt_name, "critical," + absl::StrJoin(sans, ",")}};
  // The authority key identifier is the issuer's subject key identifier; a
  // plugged-in CA without one gets leaves without it (as Go's crypto/x509, so
  // istiod, does) instead of OpenSSL's "unable to get issuer keyid" on every CSR.
  if (X509_get0_subject_key_id(bundle->signing_cert()) != nullptr) {
    extensions.emplace_back(NID_authority_key_identifier, "keyid:always");
  }
  for (const auto& [nid, value] : extensions) {
    if (auto st = AddExtension(cert.get(), bundle->signing_cert(), nid, value); !st.ok()) return st;
  }
  if (auto st = SignCert(cert.get(), bundle->signing_key()); !st.ok()) return st;

  std::vector<std::string> chain{crypto::CertificateToPem(cert.get())};
  chain.insert(chain.end(), bundle->intermediates_pem().begin(), bundle->intermediates_pem().end());
  chain.push_back(bundle->issuing_root_pem());
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
