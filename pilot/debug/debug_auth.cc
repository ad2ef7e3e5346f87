#include "pilot/debug/debug_auth.h"

#include <spdlog/spdlog.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace keel::pilot::debug {
namespace {

const http::HttpResponse kUnauthorized{401, "text/plain", ""};
const http::HttpResponse kBusy{503, "text/plain", "too many debug requests waiting for authentication\n"};

void Deny(const http::HttpRequest& request, const std::string& reason, const http::HttpReply& reply) {
  spdlog::error("Failed to authenticate {} from {}: {}", request.path, request.remote_address, reason);
  reply(kUnauthorized);
}

// 403: the token is good, its identity may not use debug endpoints. The body
// says why (the caller already knows who it is, so nothing leaks).
void Forbid(const http::HttpRequest& request, const DebugCaller& caller, const std::string& system_namespace,
            const http::HttpReply& reply) {
  const std::string reason =
      absl::StrCat("debug endpoints are for identities of namespace ", system_namespace, "; the token is of ",
                   caller.ns, "/", caller.service_account);
  spdlog::warn("Refused {} from {}: {}", request.path, request.remote_address, reason);
  reply({403, "text/plain", reason + "\n"});
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
  // Nothing to review with: no workers needed.
  if (reviewer_) reviews_ = std::make_unique<concurrency::BoundedExecutor>(options_.workers, options_.max_queued);
}

DebugAuth::~DebugAuth() { Shutdown(); }

void DebugAuth::Shutdown() {
  if (reviews_) reviews_->Shutdown();  // queued requests get 503 (their cancel)
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
  const bool queued = reviews_->Submit([this, request, handler, reply] { Review(request, handler, reply); },
                                       [reply] { reply({503, "text/plain", "shutting down\n"}); });
  if (queued) return;
  spdlog::warn("debug: {} from {} refused: {} token reviews already waiting (or shutting down)", request.path,
               request.remote_address, options_.max_queued);
  reply(kBusy);
}

void DebugAuth::Review(const http::HttpRequest& request, const http::HttpHandler& handler,
                       const http::HttpReply& reply) {
  std::multimap<std::string, std::string> headers;
  for (const auto& [name, value] : request.headers) headers.emplace(absl::AsciiStrToLower(name), value);
  absl::StatusOr<DebugCaller> caller;
  try {
    caller = reviewer_(headers);
  } catch (const std::exception& e) {
    caller = absl::InternalError(e.what());
  }
  if (!caller.ok()) {
    Deny(request, std::string(caller.status().message()), reply);
    return;
  }
  if (caller->ns.empty() || caller->ns != options_.system_namespace) {
    Forbid(request, *caller, options_.system_namespace, reply);
    return;
  }
  Run(handler, request, reply);
}

}  // namespace keel::pilot::debug
