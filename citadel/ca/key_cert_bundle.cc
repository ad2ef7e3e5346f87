#include "citadel/ca/key_cert_bundle.h"

#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"

namespace keel::citadel::ca {
namespace {

bool IsSelfSigned(X509* cert) {
  return X509_check_issued(cert, cert) == X509_V_OK;
}

}  // namespace

absl::StatusOr<KeyCertBundlePtr> KeyCertBundle::Create(const CaFiles& files) {
  std::shared_ptr<KeyCertBundle> b(new KeyCertBundle());
  b->files_ = files;
  auto cert = crypto::ParseCertificate(files.ca_cert);
  if (!cert.ok()) return absl::InvalidArgumentError(absl::StrCat("ca-cert.pem: ", cert.status().message()));
  auto key = crypto::ParsePrivateKey(files.ca_key);
  if (!key.ok()) return absl::InvalidArgumentError(absl::StrCat("ca-key.pem: ", key.status().message()));
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    crypto::OpenSslErrors();
    return absl::InvalidArgumentError("ca-key.pem does not match ca-cert.pem");
  }
  if (X509_check_ca(cert->get()) == 0) return absl::InvalidArgumentError("ca-cert.pem is not a CA certificate");
  b->self_signed_ = IsSelfSigned(cert->get());

  std::string roots = files.root_cert.empty() ? files.ca_cert : files.root_cert;
  auto root_certs = crypto::ParseCertificates(roots);
  if (!root_certs.ok()) return absl::InvalidArgumentError(absl::StrCat("root-cert.pem: ", root_certs.status().message()));
  b->roots_pem_.clear();
  for (auto& r : *root_certs) b->roots_pem_ += crypto::CertificateToPem(r.get());

  if (!b->self_signed_) b->intermediates_pem_.push_back(crypto::CertificateToPem(cert->get()));
  std::vector<crypto::X509Ptr> chain;
  if (!files.cert_chain.empty()) {
    auto parsed = crypto::ParseCertificates(files.cert_chain);
    if (!parsed.ok()) return absl::InvalidArgumentError(absl::StrCat("cert-chain.pem: ", parsed.status().message()));
    chain = std::move(*parsed);
    for (auto& c : chain) {
      if (IsSelfSigned(c.get()) || X509_cmp(c.get(), cert->get()) == 0) continue;
      b->intermediates_pem_.push_back(crypto::CertificateToPem(c.get()));
    }
  }

  // The signing certificate must chain to one of the roots.
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  for (auto& r : *root_certs) X509_STORE_add_cert(store.get(), r.get());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (auto& c : chain) sk_X509_push(untrusted, c.get());
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(), X509_STORE_CTX_free);
  X509_STORE_CTX_init(ctx.get(), store.get(), cert->get(), untrusted);
  const int ok = X509_verify_cert(ctx.get());
  const int err = X509_STORE_CTX_get_error(ctx.get());
  if (ok == 1) {
    STACK_OF(X509)* verified = X509_STORE_CTX_get0_chain(ctx.get());
    b->issuing_root_pem_ = crypto::CertificateToPem(sk_X509_value(verified, sk_X509_num(verified) - 1));
  }
  sk_X509_free(untrusted);
  if (ok != 1) {
    crypto::OpenSslErrors();
    return absl::InvalidArgumentError(absl::StrCat("ca-cert.pem does not verify against root-cert.pem: ",
                                                   X509_verify_cert_error_string(err)));
  }
  b->signing_cert_ = std::move(*cert);
  b->signing_key_ = std::move(*key);
  return KeyCertBundlePtr(std::move(b));
}

}  // namespace keel::citadel::ca
