#include "pilot/debug/debug_auth.h"

#include <spdlog/spdlog.h>

#include "absl/strings/ascii.h"

namespace keel::pilot::debug {
namespace {

const http::HttpResponse kUnauthorized{401, "text/plain", ""};
const http::HttpResponse kBusy{503, "text/plain", "too many debug requests waiting for authentication\n"};

void Deny(const http::HttpRequest& request, const std::string& reason, const http::HttpReply& reply) {
  spdlog::error("Failed to authenticate {} from {}: {}", request.path, request.remote_address, reason);
  reply(kUnauthorized);
}

void Run(const http::HttpHandler& handler, const http::HttpRequest& request, const http::HttpReply& reply) {
  http::HttpResponse response;
  try {
    response = handler(request);
  } catch (const std::exception& e) {
    response = {500, "text/plain", std::string("internal error: ") + e.what() + "\n"};
  }
  reply(std::move(response));
}

}  // namespace

DebugAuth::DebugAuth(TokenReviewer reviewer, DebugAuthOptions options)
    : reviewer_(std::move(reviewer)), options_(options) {
  if (!reviewer_) return;  // nothing to review with: no workers needed
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { Work(); });
}

DebugAuth::~DebugAuth() { Shutdown(); }

void DebugAuth::Shutdown() {
  std::deque<Pending> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    dropped.swap(queue_);
  }
  cv_.notify_all();
  for (auto& p : dropped) p.reply({503, "text/plain", "shutting down\n"});
  for (auto& t : workers_) t.join();
}

http::AsyncHttpHandler DebugAuth::Wrap(http::HttpHandler handler) {
  return [this, handler = std::move(handler)](const http::HttpRequest& request, http::HttpReply reply) {
    Serve(request, handler, std::move(reply));
  };
}

void DebugAuth::Serve(const http::HttpRequest& request, const http::HttpHandler& handler, http::HttpReply reply) {
  if (http::IsLoopbackAddress(request.remote_address)) {
    Run(handler, request, reply);
    return;
  }
  if (!reviewer_) {
    Deny(request, "not from localhost, and no Kubernetes API server to review a token with", reply);
    return;
  }
  bool has_authorization = false;
  for (const auto& [name, value] : request.headers) {
    has_authorization = has_authorization || absl::AsciiStrToLower(name) == "authorization";
  }
  if (!has_authorization) {  // nothing to review: answer on this thread
    Deny(request, "no authorization header (want \"Bearer <token>\")", reply);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_ && queue_.size() < options_.max_queued) {
      queue_.push_back({request, handler, std::move(reply)});
      cv_.notify_one();
      return;
    }
  }
  spdlog::warn("debug: {} from {} refused: {} token reviews already waiting", request.path,
               request.remote_address, options_.max_queued);
  reply(kBusy);
}

void DebugAuth::Work() {
  while (true) {
    Pending p;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping
      p = std::move(queue_.front());
      queue_.pop_front();
    }
    std::multimap<std::string, std::string> headers;
    for (const auto& [name, value] : p.request.headers) headers.emplace(absl::AsciiStrToLower(name), value);
    absl::Status status;
    try {
      status = reviewer_(headers);
    } catch (const std::exception& e) {
      status = absl::InternalError(e.what());
    }
    if (!status.ok()) {
      Deny(p.request, std::string(status.message()), p.reply);
      continue;
    }
    Run(p.handler, p.request, p.reply);
  }
}

}  // namespace keel::pilot::debug
