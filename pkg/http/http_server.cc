#include "pkg/http/http_server.h"

#include <arpa/inet.h>

#include "absl/strings/str_cat.h"
#include "pkg/http/bounded_http_server.h"

namespace keel::http {

void HttpServer::Handle(const std::string& path, HttpHandler handler) {
  HandleAsync(path, [handler = std::move(handler)](const HttpRequest& request, HttpReply reply) {
    reply(handler(request));
  });
}

void HttpServer::HandlePost(const std::string& path, HttpHandler handler) {
  HandlePost(path, AsyncHttpHandler([handler = std::move(handler)](const HttpRequest& request, HttpReply reply) {
               reply(handler(request));
             }));
}

bool IsLoopbackAddress(const std::string& address) {
  std::string text = address;
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (auto pct = text.find('%'); pct != std::string::npos) text.resize(pct);  // zone index
  in_addr v4;
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, text.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

absl::StatusOr<HttpServerPtr> CreateHttpServer(const std::string& host, int port, const HttpServerOptions& options) {
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("HTTP port must be 0-65535, got ", port));
  }
  if (options.max_header_bytes == 0 || options.max_connections <= 0 || options.handler_threads <= 0 ||
      options.request_timeout.count() <= 0 || options.idle_timeout.count() <= 0 ||
      options.write_timeout.count() <= 0) {
    return absl::InvalidArgumentError(
        "HTTP server options: max_header_bytes, max_connections, handler_threads and the timeouts must be positive");
  }
  if (options.tls && (options.tls->cert_chain_path.empty() || options.tls->key_path.empty())) {
    return absl::InvalidArgumentError("HTTP server options: tls needs both cert_chain_path and key_path");
  }
  return std::make_unique<internal::BoundedHttpServer>(host, port, options);
}

}  // namespace keel::http
