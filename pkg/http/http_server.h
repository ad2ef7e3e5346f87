// A small HTTP server for /ready, /metrics and /debug/* (cpprestsdk behind this
// header, so only http_server.cc pays its compile time).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace keel::http {

struct HttpRequest {
  std::string method;
  std::string path;                          // without the query string
  std::map<std::string, std::string> query;  // percent-decoded
  std::string remote_address;                // peer IP, as text
  std::map<std::string, std::string> headers;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// Handlers run on cpprest's thread pool. Contract: they must not block on
// network I/O (they would starve the shared pool) and must not throw.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Completes an asynchronous request. Call it exactly once, from any thread.
using HttpReply = std::function<void(HttpResponse)>;

// An asynchronous handler: called on cpprest's pool, it must return promptly
// (same contract as HttpHandler) and may call `reply` later from another thread.
// This is how a request that needs network I/O (a TokenReview) is served
// without holding a pool thread: the I/O runs on a thread the handler owns.
using AsyncHttpHandler = std::function<void(const HttpRequest&, HttpReply reply)>;

class HttpServer {
 public:
  virtual ~HttpServer() = default;

  // Serves `handler` for GET requests to exactly `path`. Call before Start().
  void Handle(const std::string& path, HttpHandler handler);
  virtual void HandleAsync(const std::string& path, AsyncHttpHandler handler) = 0;

  // Starts listening. Errors: Unavailable if the address cannot be bound.
  virtual absl::Status Start() = 0;

  // Stops listening; in-flight requests complete. Idempotent. An asynchronous
  // reply that comes after Stop() is dropped (so finish those first).
  virtual void Stop() = 0;
};

using HttpServerPtr = std::unique_ptr<HttpServer>;

// True for a loopback peer address as HttpRequest::remote_address holds it:
// 127.0.0.0/8, ::1, and IPv4-mapped ::ffff:127.x.y.z (Go's net.IP.IsLoopback).
bool IsLoopbackAddress(const std::string& address);

// `host` is an IP literal or 0.0.0.0; `port` must be non-zero (cpprest cannot
// report the port it bound for port 0).
absl::StatusOr<HttpServerPtr> CreateHttpServer(const std::string& host, int port);

}  // namespace keel::http
