// cpprestsdk adapter for KubeClient. cpprest throws and reports OpenSSL errors
// as bare numbers; nothing leaves this file but absl::Status.
#define _TURN_OFF_PLATFORM_STRING  // cpprest's U() macro breaks fmt
#include <cpprest/http_client.h>
#include <cpprest/containerstream.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <mutex>

#include "absl/strings/str_cat.h"
#include "pkg/kube/credentials.h"
#include "pkg/kube/kube_client.h"

namespace keel::kube {
namespace {

using web::http::client::http_client;
using web::http::client::http_client_config;

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

// Replaces the trust store with exactly `ca_pem` (cpprest loads the system roots
// first; trusting those too would be wrong for a cluster CA) and loads the client
// certificate, if any.
void ConfigureSsl(boost::asio::ssl::context& ctx, const ClusterConfig& config, CredentialProvider* creds) {
  SSL_CTX* ssl = ctx.native_handle();
  if (!config.ca_pem.empty()) {
    X509_STORE* store = X509_STORE_new();
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(config.ca_pem.data(), config.ca_pem.size()), BIO_free);
    while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store, cert);
      X509_free(cert);
    }
    ERR_clear_error();  // the loop ends on "no start line"
    SSL_CTX_set_cert_store(ssl, store);
  }
  auto cred = creds->Get();
  if (cred.ok() && !cred->client_cert_pem.empty()) {
    std::unique_ptr<BIO, decltype(&BIO_free)> cb(BIO_new_mem_buf(cred->client_cert_pem.data(), cred->client_cert_pem.size()), BIO_free);
    std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr), X509_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> kb(BIO_new_mem_buf(cred->client_key_pem.data(), cred->client_key_pem.size()), BIO_free);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
    if (cert && key) {
      SSL_CTX_use_certificate(ssl, cert.get());
      SSL_CTX_use_PrivateKey(ssl, key.get());
    }
    ERR_clear_error();
  }
}

class CpprestWatchStream final : public WatchStream {
 public:
  CpprestWatchStream(std::unique_ptr<http_client> client, web::http::http_response response,
                     pplx::cancellation_token_source cancel)
      : client_(std::move(client)), response_(std::move(response)), body_(response_.body()), cancel_(cancel) {}

  ~CpprestWatchStream() override { Cancel(); }

  absl::StatusOr<std::optional<std::string>> NextLine() override {
    try {
      while (true) {
        concurrency::streams::container_buffer<std::string> line;
        size_t n = body_.read_line(line).get();
        if (n == 0 && body_.is_eof()) return std::optional<std::string>();
        if (!line.collection().empty()) return std::optional<std::string>(std::move(line.collection()));
        if (body_.is_eof()) return std::optional<std::string>();
      }
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("watch stream broke: ", e.what()));
    }
  }

  void Cancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!cancelled_) {
      cancelled_ = true;
      cancel_.cancel();
    }
  }

 private:
  std::unique_ptr<http_client> client_;
  web::http::http_response response_;
  concurrency::streams::istream body_;
  pplx::cancellation_token_source cancel_;
  std::mutex mu_;
  bool cancelled_ = false;
};

class CpprestKubeClient final : public KubeClient {
 public:
  CpprestKubeClient(ClusterConfig config, KubeClientOptions options)
      : config_(std::move(config)), options_(options), creds_(config_) {
    client_ = MakeClient(options_.request_timeout_seconds);
  }

  const std::string& server() const override { return config_.server; }

  absl::StatusOr<KubeResponse> Request(const std::string& method, const std::string& path, const std::string& body,
                                       const std::string& content_type) override {
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto cred = creds_.Get();
      if (!cred.ok()) return cred.status();
      try {
        web::http::http_request req(method);
        req.set_request_uri(path);
        SetHeaders(*cred, &req);
        if (!body.empty()) req.set_body(body, content_type);
        web::http::http_response resp = client_->request(req).get();
        KubeResponse out{resp.status_code(), resp.extract_string(true).get()};
        if (out.status == 401 && attempt == 0 && config_.exec) {
          creds_.Invalidate(*cred);
          continue;
        }
        return out;
      } catch (const std::exception& e) {
        return absl::UnavailableError(absl::StrCat(method, " ", config_.server, path, ": ", Describe(e)));
      }
    }
    return absl::UnauthenticatedError("unreachable");
  }

  absl::StatusOr<std::unique_ptr<WatchStream>> Watch(const std::string& path) override {
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto cred = creds_.Get();
      if (!cred.ok()) return cred.status();
      auto client = MakeClient(options_.watch_idle_timeout_seconds);
      pplx::cancellation_token_source cancel;
      try {
        web::http::http_request req(web::http::methods::GET);
        req.set_request_uri(path);
        SetHeaders(*cred, &req);
        web::http::http_response resp = client->request(req, cancel.get_token()).get();
        if (resp.status_code() == 401 && attempt == 0 && config_.exec) {
          creds_.Invalidate(*cred);
          continue;
        }
        if (resp.status_code() != 200) {
          std::string text = resp.extract_string(true).get();
          return HttpStatusToStatus(resp.status_code(), absl::StrCat("watch ", path, ": HTTP ", resp.status_code(), ": ", text));
        }
        return std::unique_ptr<WatchStream>(new CpprestWatchStream(std::move(client), std::move(resp), cancel));
      } catch (const std::exception& e) {
        return absl::UnavailableError(absl::StrCat("watch ", config_.server, path, ": ", Describe(e)));
      }
    }
    return absl::UnauthenticatedError("unreachable");
  }

 private:
  std::unique_ptr<http_client> MakeClient(int timeout_seconds) {
    http_client_config cfg;
    cfg.set_timeout(std::chrono::seconds(timeout_seconds));
    cfg.set_validate_certificates(!config_.insecure_skip_tls_verify);
    cfg.set_ssl_context_callback([this](boost::asio::ssl::context& ctx) { ConfigureSsl(ctx, config_, &creds_); });
    return std::make_unique<http_client>(web::uri(config_.server), cfg);
  }

  void SetHeaders(const Credential& cred, web::http::http_request* req) const {
    // kubeconfig tls-server-name: cpprest takes the Host header, when set, as the
    // name for SNI and for verifying the server's certificate (calc_cn_host).
    if (!config_.tls_server_name.empty()) req->headers().add("Host", config_.tls_server_name);
    req->headers().add("Accept", "application/json");
    req->headers().add("User-Agent", "keel-discovery");
    if (!cred.bearer_token.empty()) req->headers().add("Authorization", "Bearer " + cred.bearer_token);
  }

  static std::string Describe(const std::exception& e) {
    std::string what = e.what();
    std::string ssl = OpenSslErrors();
    return ssl.empty() ? what : absl::StrCat(what, " (", ssl, ")");
  }

  const ClusterConfig config_;
  const KubeClientOptions options_;
  CredentialProvider creds_;
  std::unique_ptr<http_client> client_;
};

}  // namespace

absl::Status HttpStatusToStatus(int http_status, const std::string& message) {
  switch (http_status) {
    case 400: return absl::InvalidArgumentError(message);
    case 401: return absl::UnauthenticatedError(message);
    case 403: return absl::PermissionDeniedError(message);
    case 404: return absl::NotFoundError(message);
    case 409: return absl::AlreadyExistsError(message);
    case 410: return absl::OutOfRangeError(message);
    case 422: return absl::InvalidArgumentError(message);
    case 429: return absl::UnavailableError(message);
    default:
      if (http_status >= 500) return absl::UnavailableError(message);
      if (http_status >= 200 && http_status < 300) return absl::OkStatus();
      return absl::UnknownError(message);
  }
}

absl::StatusOr<KubeClientPtr> CreateKubeClient(const ClusterConfig& config, const KubeClientOptions& options) {
  if (config.server.rfind("https://", 0) != 0 && config.server.rfind("http://", 0) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("server \"", config.server, "\" is not an http(s) URL"));
  }
  return KubeClientPtr(new CpprestKubeClient(config, options));
}

}  // namespace keel::kube
