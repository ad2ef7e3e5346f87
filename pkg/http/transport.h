// How a connection's bytes move for the bounded server: straight over the
// socket, or through TLS (OpenSSL over the same socket). Non-blocking: an
// operation that cannot proceed says which socket readiness it waits for (TLS
// may need to write while reading, or read while writing). I/O thread only.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <string>

namespace keel::http::internal {

class Transport {
 public:
  enum class Status {
    kOk,         // progress: `bytes` moved (Read/Write) or the handshake is done
    kWantRead,   // retry once the socket is readable
    kWantWrite,  // retry once the socket is writable
    kClosed,     // end of stream (EOF, TLS close_notify) or an error: close the connection
  };
  struct Result {
    Status status;
    size_t bytes = 0;
  };

  virtual ~Transport() = default;

  // Completes the handshake; kOk once it is done (at once for plain TCP).
  virtual Status Handshake() = 0;
  // Reads up to `size` bytes; kOk has bytes > 0.
  virtual Result Read(char* buffer, size_t size) = 0;
  // Writes some of `data`; kOk has bytes > 0. After kWant*, retry with the same
  // bytes (TLS has already taken them into a record).
  virtual Result Write(const char* data, size_t size) = 0;
  // Bytes received and decrypted that wait inside the transport: Read() returns
  // them although the socket may not be readable.
  virtual bool HasPending() const = 0;
  // After the last response: sends TLS close_notify (once, not waiting, result
  // ignored), then shuts the write side of the socket.
  virtual void Shutdown() = 0;
  // Why the last operation returned kClosed ("" if the transport does not know).
  virtual std::string error() const = 0;
};

// Plain TCP on `fd` (not owned; the caller closes it after the transport is gone).
std::unique_ptr<Transport> NewPlainTransport(int fd);

// TLS (server side) on `fd` (not owned) with a new SSL of `ctx` (which it
// references, so `ctx` may be released meanwhile). nullptr if OpenSSL cannot
// make one (out of memory).
std::unique_ptr<Transport> NewTlsServerTransport(int fd, SSL_CTX* ctx);

// Drains OpenSSL's (thread-local) error queue into one line; "" when empty.
std::string OpenSslErrors();

}  // namespace keel::http::internal
