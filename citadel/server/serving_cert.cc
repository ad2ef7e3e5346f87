#include "citadel/server/serving_cert.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace keel::citadel::server {
namespace {

namespace fs = std::filesystem;

absl::Status WriteAtomically(const std::string& path, const std::string& content, bool secret) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  }
  if (secret) chmod(tmp.c_str(), 0600);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot write ", path, ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace

ServingCert::ServingCert(const ca::CertSigner* signer, ServingCertOptions options)
    : signer_(signer),
      options_(std::move(options)),
      key_path_(options_.dir + "/key.pem"),
      chain_path_(options_.dir + "/cert-chain.pem"),
      root_path_(options_.dir + "/root-cert.pem") {}

absl::StatusOr<std::unique_ptr<ServingCert>> ServingCert::Create(const ca::CertSigner* signer,
                                                                 ServingCertOptions options) {
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("serving cert dir ", options.dir, ": ", ec.message()));
  std::unique_ptr<ServingCert> cert(new ServingCert(signer, std::move(options)));
  if (auto st = cert->Issue(); !st.ok()) return st;
  cert->renewer_ = std::thread([c = cert.get()] { c->RenewLoop(); });
  return cert;
}

ServingCert::~ServingCert() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
}

absl::Status ServingCert::Issue() {
  auto key = crypto::GenerateKey(options_.key_type);
  if (!key.ok()) return key.status();
  auto csr = crypto::MakeCsrPem(key->get(), {}, options_.dns_names);
  if (!csr.ok()) return csr.status();
  ca::SignRequest request;
  request.csr_pem = *csr;
  request.dns_sans = options_.dns_names;
  request.ttl = options_.ttl;
  auto chain = signer_->Sign(request);
  if (!chain.ok()) return chain.status();
  std::string chain_pem;
  for (const auto& c : *chain) chain_pem += c;
  // Root first: the key and chain must never be read as a mismatched pair, and
  // gRPC reloads key and chain together when both changed.
  if (auto st = WriteAtomically(root_path_, signer_->RootsPem(), false); !st.ok()) return st;
  if (auto st = WriteAtomically(key_path_, crypto::PrivateKeyToPem(key->get()), true); !st.ok()) return st;
  if (auto st = WriteAtomically(chain_path_, chain_pem, false); !st.ok()) return st;
  issued_at_ = absl::Now();
  expires_at_ = issued_at_ + options_.ttl;
  spdlog::info("CA: serving certificate for {} issued, valid until {}", options_.dns_names.empty() ? "" : options_.dns_names[0],
               absl::FormatTime(expires_at_));
  return absl::OkStatus();
}

absl::StatusOr<bool> ServingCert::MaybeRenew(absl::Time now) {
  if (now < issued_at_ + (expires_at_ - issued_at_) / 2) return false;
  if (auto st = Issue(); !st.ok()) return st;
  return true;
}

void ServingCert::RenewLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::seconds(30), [this] { return stopping_; })) {
    lock.unlock();
    auto renewed = MaybeRenew(absl::Now());
    if (!renewed.ok()) spdlog::error("CA: renewing the serving certificate: {}", std::string(renewed.status().message()));
    lock.lock();
  }
}

std::shared_ptr<grpc::ServerCredentials> ServingCert::Credentials() const {
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(key_path_, chain_path_,
                                                                                        options_.refresh_interval_s);
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_identity_key_cert_pairs();
  tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  return grpc::experimental::TlsServerCredentials(tls);
}

}  // namespace keel::citadel::server
