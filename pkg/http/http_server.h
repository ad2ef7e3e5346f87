// A small bounded HTTP/1.x server for /ready, /metrics, /debug/* and the
// admission webhooks (POSIX sockets and poll(); optional TLS with OpenSSL). One
// I/O thread accepts, handshakes, reads, parses and writes; handlers run on a
// small fixed pool. Every resource a client can make it hold is bounded by
// HttpServerOptions.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace keel::http {

struct HttpRequest {
  std::string method;                        // GET or HEAD, or POST for a POST handler (others: 405 before a handler)
  std::string path;                          // percent-decoded, without the query string
  std::map<std::string, std::string> query;  // keys and values percent-decoded ('+' is a space in values)
  std::string remote_address;                // peer IP as text: 127.0.0.1, ::1, ::ffff:127.0.0.1
  std::map<std::string, std::string> headers;  // names lower-case; repeated fields joined with ", "
  std::string body;                          // POST: the request body (Content-Length bytes); else empty
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// Handlers run on the server's handler pool (HttpServerOptions::handler_threads).
// Contract: they must not block on network I/O (they would hold a pool thread)
// and must not throw (a throw is answered 500).
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Completes an asynchronous request. Call it once, from any thread; later calls
// are ignored. If every copy is destroyed uncalled, the client gets a 500.
using HttpReply = std::function<void(HttpResponse)>;

// An asynchronous handler: called on the pool, it must return promptly (same
// contract as HttpHandler) and may call `reply` later from another thread.
// This is how a request that needs network I/O (a TokenReview) is served
// without holding a pool thread: the I/O runs on a thread the handler owns.
using AsyncHttpHandler = std::function<void(const HttpRequest&, HttpReply reply)>;

// The bounds. A request beyond one is answered with the status named and the
// connection is closed; nothing a client sends is buffered beyond them.
struct HttpServerOptions {
  // Request line plus header fields. Beyond: 431 Request Header Fields Too Large.
  size_t max_header_bytes = 16 * 1024;
  // A request body (Content-Length). A POST handler gets it in HttpRequest::body;
  // any other request's body is read and discarded. Beyond: 413 Payload Too
  // Large, answered before the body is read. A chunked body is refused with 411
  // Length Required, any other Transfer-Encoding 501.
  size_t max_body_bytes = 1024 * 1024;
  // From accept (or a kept-alive request's first byte) until its head and body
  // have arrived (slowloris); with TLS the handshake counts too. Expired: 408
  // (or, if nothing came or the handshake is not done, a silent close).
  std::chrono::milliseconds request_timeout{10'000};
  // A kept-alive connection waiting for its next request. Expired: closed.
  std::chrono::milliseconds idle_timeout{60'000};
  // Writing a response makes no progress (the client does not read). Expired: closed.
  std::chrono::milliseconds write_timeout{10'000};
  // Open connections. Beyond: the new connection gets a 503 and is closed (with
  // TLS it is closed at once: there is no handshake to answer over).
  int max_connections = 256;
  // Threads running handlers (each connection has at most one request in a handler).
  int handler_threads = 4;

  // PEM files of the serving certificate (leaf first, then intermediates) and its
  // private key.
  struct TlsFiles {
    std::string cert_chain_path;
    std::string key_path;
  };
  // Set: every connection speaks TLS 1.2 or 1.3 (ALPN: only "http/1.1" is
  // selected, never h2; a client without ALPN is served too). The files may be
  // replaced on disk (written whole and renamed into place): they are checked at
  // most once a second, when a connection is accepted, and a change (inode,
  // size or mtime) is loaded for the connections accepted after it. A change
  // that does not load (a half-written pair, a key that does not match) is
  // logged and the last good certificate is served until the files change again.
  // A plaintext client gets its connection closed.
  std::optional<TlsFiles> tls;
};

class HttpServer {
 public:
  virtual ~HttpServer() = default;

  // Serves `handler` for GET (and HEAD) requests to exactly `path`; a `path` ending
  // in "/" also serves every path under it no more specific route has (Go's ServeMux
  // subtrees: "/inject/" serves "/inject/cluster/c1/net/n1"). Call before Start().
  void Handle(const std::string& path, HttpHandler handler);
  virtual void HandleAsync(const std::string& path, AsyncHttpHandler handler) = 0;

  // Serves `handler` for POST requests to `path` (matched as Handle does), with the body in
  // HttpRequest::body. A path may have a GET and a POST handler; a method the
  // path has no handler for is answered 405 (with Allow). Call before Start().
  void HandlePost(const std::string& path, HttpHandler handler);
  virtual void HandlePost(const std::string& path, AsyncHttpHandler handler) = 0;

  // Starts listening. Errors: Unavailable if the address cannot be bound;
  // InvalidArgument if HttpServerOptions::tls is set and the certificate or key
  // cannot be loaded (the message names the file and OpenSSL's reason).
  virtual absl::Status Start() = 0;

  // The port listened on after Start() succeeded (the one bound, for port 0); else 0.
  virtual int port() const = 0;

  // Stops listening and closes every connection. Handlers already running
  // finish and their responses are written (for at most about a second);
  // queued ones get 503; an asynchronous reply that comes after Stop() is
  // dropped (so finish those first). Idempotent.
  virtual void Stop() = 0;
};

using HttpServerPtr = std::unique_ptr<HttpServer>;

// True for a loopback peer address as HttpRequest::remote_address holds it:
// 127.0.0.0/8, ::1, and IPv4-mapped ::ffff:127.x.y.z (Go's net.IP.IsLoopback).
bool IsLoopbackAddress(const std::string& address);

// `host` is an IP literal, 0.0.0.0, :: or a name in /etc/hosts; `port` is
// 0-65535 (0: any free port, see port()). Errors: InvalidArgument for a port out
// of range, an option that is not positive, or a `tls` with an empty path.
absl::StatusOr<HttpServerPtr> CreateHttpServer(const std::string& host, int port,
                                               const HttpServerOptions& options = {});

}  // namespace keel::http
