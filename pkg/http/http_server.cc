#include "pkg/http/http_server.h"

// cpprest defines a macro U() that breaks fmt (spdlog); turn it off.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/http_listener.h>
#include <cpprest/uri.h>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>

#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace keel::http {
namespace {

using web::http::http_request;
using web::http::experimental::listener::http_listener;

std::map<std::string, std::string> DecodeQuery(const std::string& raw) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start <= raw.size()) {
    size_t end = raw.find('&', start);
    if (end == std::string::npos) end = raw.size();
    std::string pair = raw.substr(start, end - start);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string key = pair.substr(0, eq);
      std::string value = eq == std::string::npos ? "" : pair.substr(eq + 1);
      for (auto& c : value) if (c == '+') c = ' ';
      out[web::uri::decode(key)] = web::uri::decode(value);
    }
    start = end + 1;
  }
  return out;
}

class CpprestHttpServer final : public HttpServer {
 public:
  CpprestHttpServer(std::string host, int port) : host_(std::move(host)), port_(port) {}
  ~CpprestHttpServer() override { Stop(); }

  void HandleAsync(const std::string& path, AsyncHttpHandler handler) override {
    handlers_[path] = std::move(handler);
  }

  absl::Status Start() override {
    try {
      listener_ = std::make_unique<http_listener>(
          web::uri(absl::StrCat("http://", host_, ":", port_, "/")));
      listener_->support([this](http_request request) { Serve(std::move(request)); });
      listener_->open().wait();
    } catch (const std::exception& e) {
      listener_.reset();
      return absl::UnavailableError(
          absl::StrCat("cannot listen for HTTP on ", host_, ":", port_, ": ", e.what()));
    }
    return absl::OkStatus();
  }

  void Stop() override {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (!listener_) return;
    try {
      listener_->close().wait();
    } catch (const std::exception& e) {
      spdlog::warn("closing HTTP listener: {}", e.what());
    }
    listener_.reset();
  }

 private:
  // Sends `response` for `request`; safe from any thread.
  static void Reply(http_request request, const HttpResponse& response) {
    try {
      web::http::http_response reply(static_cast<web::http::status_code>(response.status));
      reply.set_body(response.body, response.content_type);
      request.reply(reply).then([](pplx::task<void> t) {
        try {
          t.get();
        } catch (const std::exception& e) {
          spdlog::debug("HTTP reply not delivered: {}", e.what());
        }
      });
    } catch (const std::exception& e) {
      spdlog::debug("HTTP reply failed: {}", e.what());
    }
  }

  void Serve(http_request request) {
    HttpRequest req;
    const AsyncHttpHandler* handler = nullptr;
    try {
      req.method = request.method();
      req.path = web::uri::decode(request.relative_uri().path());
      req.query = DecodeQuery(request.relative_uri().query());
      req.remote_address = request.remote_address();
      for (const auto& [name, value] : request.headers()) req.headers[name] = value;
      auto it = handlers_.find(req.path);
      if (req.method != "GET") {
        Reply(request, {405, "text/plain", "only GET is supported\n"});
        return;
      }
      if (it == handlers_.end()) {
        Reply(request, {404, "text/plain", absl::StrCat("no handler for ", req.path, "\n")});
        return;
      }
      handler = &it->second;
    } catch (const std::exception& e) {
      Reply(request, {500, "text/plain", absl::StrCat("internal error: ", e.what(), "\n")});
      return;
    }
    try {
      (*handler)(req, [request](HttpResponse response) { Reply(request, response); });
    } catch (const std::exception& e) {
      // The handler broke its contract; it may or may not have replied. A second
      // reply is rejected by cpprest (and caught in Reply).
      Reply(request, {500, "text/plain", absl::StrCat("internal error: ", e.what(), "\n")});
    }
  }

  const std::string host_;
  const int port_;
  std::map<std::string, AsyncHttpHandler> handlers_;  // written before Start(), then read-only
  std::mutex stop_mu_;
  std::unique_ptr<http_listener> listener_;
};

}  // namespace

void HttpServer::Handle(const std::string& path, HttpHandler handler) {
  HandleAsync(path, [handler = std::move(handler)](const HttpRequest& request, HttpReply reply) {
    reply(handler(request));
  });
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

absl::StatusOr<HttpServerPtr> CreateHttpServer(const std::string& host, int port) {
  if (port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("HTTP port must be 1-65535, got ", port));
  }
  return std::make_unique<CpprestHttpServer>(host, port);
}

}  // namespace keel::http
