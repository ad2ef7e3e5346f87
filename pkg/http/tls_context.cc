#include "pkg/http/tls_context.h"

#include <openssl/err.h>
#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include <tuple>

#include "absl/strings/str_cat.h"
#include "pkg/http/transport.h"

namespace keel::http::internal {
namespace {

// TLS 1.2 suites (1.3 ones are OpenSSL's defaults, all AEAD and forward secret).
constexpr char kTls12Ciphers[] = "ECDHE+AESGCM:ECDHE+CHACHA20";
constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

// Picks "http/1.1" if the client offers it; else the handshake goes on without
// ALPN (never h2: this server speaks HTTP/1.1 only).
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in, unsigned int in_len,
               void*) {
  unsigned char* selected = nullptr;
  unsigned char selected_len = 0;
  if (SSL_select_next_proto(&selected, &selected_len, kAlpnHttp11, sizeof(kAlpnHttp11), in, in_len) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  *out_len = selected_len;
  return SSL_TLSEXT_ERR_OK;
}

absl::Status LoadError(absl::string_view what, const std::string& path) {
  return absl::InvalidArgumentError(absl::StrCat("cannot load the TLS ", what, " ", path, ": ", OpenSslErrors()));
}

}  // namespace

absl::StatusOr<SslCtxPtr> NewServerTlsContext(const HttpServerOptions::TlsFiles& files) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return absl::InternalError(absl::StrCat("SSL_CTX_new: ", OpenSslErrors()));
  SSL_CTX* c = ctx.get();
  if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 || SSL_CTX_set_cipher_list(c, kTls12Ciphers) != 1) {
    return absl::InternalError(absl::StrCat("configuring TLS: ", OpenSslErrors()));
  }
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  // No server-side session cache (it would grow with clients); resumption uses tickets.
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_alpn_select_cb(c, SelectAlpn, nullptr);
  // The key first: a certificate loaded after it that does not match drops it,
  // and the check below says so (the other order fails inside the key load).
  if (SSL_CTX_use_PrivateKey_file(c, files.key_path.c_str(), SSL_FILETYPE_PEM) != 1) {
    return LoadError("private key", files.key_path);
  }
  if (SSL_CTX_use_certificate_chain_file(c, files.cert_chain_path.c_str()) != 1) {
    return LoadError("certificate chain", files.cert_chain_path);
  }
  if (SSL_CTX_check_private_key(c) != 1) {
    ERR_clear_error();  // "no private key assigned": the certificate load dropped the key
    return absl::InvalidArgumentError(absl::StrCat("the TLS private key ", files.key_path,
                                                   " does not match the certificate ", files.cert_chain_path));
  }
  return ctx;
}

bool ReloadingTlsContext::FileId::operator==(const FileId& other) const {
  return std::tie(exists, device, inode, size, mtime.tv_sec, mtime.tv_nsec) ==
         std::tie(other.exists, other.device, other.inode, other.size, other.mtime.tv_sec, other.mtime.tv_nsec);
}

ReloadingTlsContext::FileId ReloadingTlsContext::Stat(const std::string& path) {
  struct stat st {};
  FileId id;
  if (stat(path.c_str(), &st) != 0) return id;
  id.exists = true;
  id.device = st.st_dev;
  id.inode = st.st_ino;
  id.size = st.st_size;
  id.mtime = st.st_mtim;
  return id;
}

absl::StatusOr<std::unique_ptr<ReloadingTlsContext>> ReloadingTlsContext::Create(HttpServerOptions::TlsFiles files) {
  // Stat first: a change after this point is seen by the next check.
  FileId cert = Stat(files.cert_chain_path), key = Stat(files.key_path);
  auto ctx = NewServerTlsContext(files);
  if (!ctx.ok()) return ctx.status();
  return std::unique_ptr<ReloadingTlsContext>(new ReloadingTlsContext(std::move(files), std::move(*ctx), cert, key));
}

ReloadingTlsContext::ReloadingTlsContext(HttpServerOptions::TlsFiles files, SslCtxPtr ctx, FileId cert, FileId key)
    : files_(std::move(files)),
      ctx_(std::move(ctx)),
      cert_id_(cert),
      key_id_(key),
      next_check_(Clock::now() + kCheckInterval) {}

SSL_CTX* ReloadingTlsContext::Current(Clock::time_point now) {
  if (now < next_check_) return ctx_.get();
  next_check_ = now + kCheckInterval;
  FileId cert = Stat(files_.cert_chain_path), key = Stat(files_.key_path);
  if (cert == cert_id_ && key == key_id_) return ctx_.get();
  cert_id_ = cert;
  key_id_ = key;
  auto ctx = NewServerTlsContext(files_);
  if (!ctx.ok()) {
    spdlog::warn("HTTP server: the TLS certificate files changed but do not load; still serving the previous "
                 "certificate: {}", std::string(ctx.status().message()));
    return ctx_.get();
  }
  ctx_ = std::move(*ctx);  // connections using the old context hold a reference to it
  spdlog::info("HTTP server: loaded the new TLS certificate {}", files_.cert_chain_path);
  return ctx_.get();
}

}  // namespace keel::http::internal
