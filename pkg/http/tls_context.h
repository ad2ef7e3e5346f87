// The bounded server's TLS configuration: an SSL_CTX built from the certificate
// and key files, rebuilt when another component replaces them on disk.
#pragma once

#include <openssl/ssl.h>
#include <sys/types.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "pkg/http/http_server.h"

namespace keel::http::internal {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// A server SSL_CTX: TLS 1.2 and 1.3, forward-secret AEAD suites for 1.2, no
// renegotiation, ALPN "http/1.1" only, partial writes (the caller retries with
// the same buffer). Errors: InvalidArgument naming the file that cannot be
// loaded, or a key that does not match the certificate, with OpenSSL's reason.
absl::StatusOr<SslCtxPtr> NewServerTlsContext(const HttpServerOptions::TlsFiles& files);

// The context for new connections. Not thread-safe: after Create(), only the
// I/O thread calls Current().
class ReloadingTlsContext {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kCheckInterval{1};

  // Loads the files (errors as NewServerTlsContext()).
  static absl::StatusOr<std::unique_ptr<ReloadingTlsContext>> Create(HttpServerOptions::TlsFiles files);

  // The context for a connection accepted at `now`. At most once per
  // kCheckInterval, stats both files (following symlinks); if either changed
  // since the last load attempt, it rebuilds the context. A failed rebuild is
  // logged once (a warning) and the last good context is kept until the files
  // change again. Connections made earlier keep the context they were made with.
  SSL_CTX* Current(Clock::time_point now);

 private:
  // What stat() says about a file; equal ids: taken as unchanged.
  struct FileId {
    bool exists = false;
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    timespec mtime{};
    bool operator==(const FileId& other) const;
  };
  static FileId Stat(const std::string& path);

  ReloadingTlsContext(HttpServerOptions::TlsFiles files, SslCtxPtr ctx, FileId cert, FileId key);

  const HttpServerOptions::TlsFiles files_;
  SslCtxPtr ctx_;
  FileId cert_id_;  // of the last load attempt
  FileId key_id_;
  Clock::time_point next_check_;
};

}  // namespace keel::http::internal
