#include "pkg/http/transport.h"

#include <openssl/err.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace keel::http::internal {
namespace {

using Status = Transport::Status;

class PlainTransport final : public Transport {
 public:
  explicit PlainTransport(int fd) : fd_(fd) {}

  Status Handshake() override { return Status::kOk; }

  Result Read(char* buffer, size_t size) override {
    ssize_t n = recv(fd_, buffer, size, 0);
    if (n > 0) return {Status::kOk, static_cast<size_t>(n)};
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return {Status::kWantRead};
    error_ = n == 0 ? "end of stream" : strerror(errno);
    return {Status::kClosed};
  }

  Result Write(const char* data, size_t size) override {
    while (true) {
      ssize_t n = send(fd_, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) return {Status::kOk, static_cast<size_t>(n)};
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return {Status::kWantWrite};
      error_ = n == 0 ? "send wrote nothing" : strerror(errno);
      return {Status::kClosed};
    }
  }

  bool HasPending() const override { return false; }
  void Shutdown() override { shutdown(fd_, SHUT_WR); }
  std::string error() const override { return error_; }

 private:
  const int fd_;
  std::string error_;
};

// Every SSL call starts with an empty error queue (SSL_get_error() reads it) and
// leaves it empty (what a failure put there is kept in error_).
class TlsServerTransport final : public Transport {
 public:
  TlsServerTransport(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  ~TlsServerTransport() override { SSL_free(ssl_); }
  TlsServerTransport(const TlsServerTransport&) = delete;
  TlsServerTransport& operator=(const TlsServerTransport&) = delete;

  Status Handshake() override {
    ERR_clear_error();
    int rc = SSL_accept(ssl_);
    return rc == 1 ? Status::kOk : Failed(rc);
  }

  Result Read(char* buffer, size_t size) override {
    ERR_clear_error();
    size_t n = 0;
    int rc = SSL_read_ex(ssl_, buffer, size, &n);
    if (rc == 1) return {Status::kOk, n};
    return {Failed(rc)};
  }

  Result Write(const char* data, size_t size) override {
    ERR_clear_error();
    size_t n = 0;
    int rc = SSL_write_ex(ssl_, data, size, &n);  // SSL_MODE_ENABLE_PARTIAL_WRITE: n may be < size
    if (rc == 1) return {Status::kOk, n};
    return {Failed(rc)};
  }

  bool HasPending() const override { return SSL_pending(ssl_) > 0; }

  void Shutdown() override {
    ERR_clear_error();
    SSL_shutdown(ssl_);
    ERR_clear_error();
    shutdown(fd_, SHUT_WR);
  }

  std::string error() const override { return error_; }

 private:
  Status Failed(int rc) {
    const int saved_errno = errno;
    switch (SSL_get_error(ssl_, rc)) {
      case SSL_ERROR_WANT_READ:
        return Status::kWantRead;
      case SSL_ERROR_WANT_WRITE:
        return Status::kWantWrite;
      case SSL_ERROR_ZERO_RETURN:
        error_ = "close_notify";
        break;
      case SSL_ERROR_SYSCALL:
        error_ = saved_errno != 0 ? strerror(saved_errno) : "end of stream";
        if (std::string queued = OpenSslErrors(); !queued.empty()) absl::StrAppend(&error_, " (", queued, ")");
        break;
      default:
        error_ = OpenSslErrors();
        if (error_.empty()) error_ = "TLS error";
        break;
    }
    ERR_clear_error();
    return Status::kClosed;
  }

  const int fd_;
  SSL* const ssl_;
  std::string error_;
};

}  // namespace

std::unique_ptr<Transport> NewPlainTransport(int fd) { return std::make_unique<PlainTransport>(fd); }

std::unique_ptr<Transport> NewTlsServerTransport(int fd, SSL_CTX* ctx) {
  ERR_clear_error();
  SSL* ssl = SSL_new(ctx);
  if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    ERR_clear_error();
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  return std::make_unique<TlsServerTransport>(fd, ssl);
}

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    absl::StrAppend(&out, out.empty() ? "" : "; ", buf);
  }
  return out;
}

}  // namespace keel::http::internal
