#include "test_pki.h"

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace keel::citadel::testing {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "test PKI: %s: %s\n", what.c_str(), crypto::OpenSslErrors().c_str());
  std::abort();
}

void AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) Die(absl::StrCat("extension ", OBJ_nid2sn(nid), "=", value));
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

}  // namespace

crypto::EvpPkeyPtr NewKey(crypto::KeyType type) {
  auto key = crypto::GenerateKey(type);
  if (!key.ok()) Die("key generation");
  return std::move(*key);
}

TestCert MakeCert(const TestCertOptions& options, const TestCert* issuer) {
  TestCert out;
  out.key = NewKey(options.key_type);
  out.cert.reset(X509_new());
  X509* cert = out.cert.get();
  X509_set_version(cert, 2);
  static long serial = 1000;
  ASN1_INTEGER_set(X509_get_serialNumber(cert), ++serial);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Keel test"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(options.common_name.c_str()), -1, -1, 0);
  X509* issuer_cert = issuer ? issuer->cert.get() : cert;
  EVP_PKEY* issuer_key = issuer ? issuer->key.get() : out.key.get();
  X509_set_issuer_name(cert, X509_get_subject_name(issuer_cert));
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), absl::ToInt64Seconds(options.ttl));
  X509_set_pubkey(cert, out.key.get());
  AddExt(cert, issuer_cert, NID_basic_constraints, options.ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  AddExt(cert, issuer_cert, NID_key_usage,
         options.ca ? "critical,keyCertSign,cRLSign,digitalSignature" : "critical,digitalSignature,keyEncipherment");
  if (options.subject_key_id) {
    AddExt(cert, issuer_cert, NID_subject_key_identifier, "hash");
    if (issuer) AddExt(cert, issuer_cert, NID_authority_key_identifier, "keyid");
  }
  if (!X509_sign(cert, issuer_key, EVP_sha256())) Die("X509_sign");
  out.cert_pem = crypto::CertificateToPem(cert);
  out.key_pem = crypto::PrivateKeyToPem(out.key.get());
  return out;
}

TestPki MakePluggedInPki(int intermediates, crypto::KeyType key_type) {
  TestPki pki;
  pki.root = MakeCert({"Test Root CA", true, true, absl::Hours(24 * 365), key_type});
  for (int i = 0; i < intermediates; ++i) {
    const TestCert* issuer = i == 0 ? &pki.root : &pki.intermediates.back();
    pki.intermediates.push_back(
        MakeCert({absl::StrCat("Test Intermediate CA ", i + 1), true, true, absl::Hours(24 * 30), key_type}, issuer));
  }
  const TestCert& signing = pki.intermediates.empty() ? pki.root : pki.intermediates.back();
  pki.files.ca_cert = signing.cert_pem;
  pki.files.ca_key = signing.key_pem;
  for (auto it = pki.intermediates.rbegin(); it != pki.intermediates.rend(); ++it) pki.files.cert_chain += it->cert_pem;
  pki.files.cert_chain += pki.root.cert_pem;
  pki.files.root_cert = pki.root.cert_pem;
  return pki;
}

std::string MakeCsr(EVP_PKEY* key, const std::string& common_name, const std::string& organization,
                    const std::vector<std::string>& uri_sans, const std::vector<std::string>& dns_sans) {
  crypto::X509ReqPtr req(X509_REQ_new());
  X509_REQ_set_version(req.get(), 0);
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  if (!organization.empty()) {
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(organization.c_str()),
                               -1, -1, 0);
  }
  if (!common_name.empty()) {
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                               -1, -1, 0);
  }
  X509_REQ_set_pubkey(req.get(), key);
  std::vector<std::string> sans;
  for (const auto& u : uri_sans) sans.push_back("URI:" + u);
  for (const auto& d : dns_sans) sans.push_back("DNS:" + d);
  if (!sans.empty()) {
    STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION* ext =
        X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, absl::StrJoin(sans, ",").c_str());
    if (!ext) Die("CSR SAN");
    sk_X509_EXTENSION_push(exts, ext);
    X509_REQ_add_extensions(req.get(), exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  }
  if (!X509_REQ_sign(req.get(), key, EVP_sha256())) Die("X509_REQ_sign");
  crypto::BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n);
}

std::string MakeMismatchedCsr(EVP_PKEY* signer, EVP_PKEY* claimed) {
  // Sign with `signer`, then replace the public key: PEM_write re-encodes the
  // (modified) request info and keeps the old signature.
  auto pem = MakeCsr(signer, "", "", {"spiffe://cluster.local/ns/default/sa/x"}, {});
  auto req = crypto::ParseCsr(pem);
  if (!req.ok()) Die("re-parse CSR");
  X509_REQ_set_pubkey(req->get(), claimed);
  crypto::BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req->get());
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n);
}

std::string Verify(X509* leaf, const std::string& roots_pem, const std::vector<std::string>& untrusted_pem,
                   int purpose) {
  auto roots = crypto::ParseCertificates(roots_pem);
  if (!roots.ok()) return std::string(roots.status().message());
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  for (auto& r : *roots) X509_STORE_add_cert(store.get(), r.get());
  std::vector<crypto::X509Ptr> owned;
  for (const auto& pem : untrusted_pem) {
    auto certs = crypto::ParseCertificates(pem);
    if (!certs.ok()) return std::string(certs.status().message());
    for (auto& c : *certs) owned.push_back(std::move(c));
  }
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (auto& c : owned) sk_X509_push(untrusted, c.get());
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(), X509_STORE_CTX_free);
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf, untrusted);
  if (purpose) X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  const int ok = X509_verify_cert(ctx.get());
  const int err = X509_STORE_CTX_get_error(ctx.get());
  sk_X509_free(untrusted);
  crypto::OpenSslErrors();
  return ok == 1 ? "" : X509_verify_cert_error_string(err);
}

std::vector<std::string> SubjectAltNames(X509* cert) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_URI || n->type == GEN_DNS) {
      const ASN1_IA5STRING* s = n->type == GEN_URI ? n->d.uniformResourceIdentifier : n->d.dNSName;
      out.push_back(absl::StrCat(n->type == GEN_URI ? "URI:" : "DNS:",
                                 std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                             ASN1_STRING_length(s))));
    } else {
      out.push_back(absl::StrCat("type", n->type, ":?"));
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

}  // namespace keel::citadel::testing
