// DebugAuth: who may use /debug/* (istiod's allowAuthenticatedOrLocalhost, with
// the system-namespace check istiod leaves as a TODO there).
// - A request from a loopback address needs nothing (`kubectl port-forward`
//   arrives from localhost), whatever it asks, /debug/adsz?push=true included.
// - Any other must carry `Authorization: Bearer <token>` that the token reviewer
//   accepts, else it gets 401 with an empty body (istiod says nothing more
//   either, and logs the reason).
// - An accepted token whose identity is not of the system namespace gets 403
//   with a body naming the caller and the namespace it would need. Every debug
//   endpoint shows mesh-wide state and adsz?push=true changes it, so one rule
//   covers all of them.
//
// Threads: the token review is a blocking call to the Kubernetes API server,
// and the debug handlers run on the monitoring server's small fixed handler pool
// (pkg/http: 4 threads shared by /ready, /metrics and every /debug request). A
// review on a pool thread would let a burst of remote requests stall the liveness
// probe. So the wrapped handler never reviews on the pool thread: it queues the
// request for DebugAuth's own worker threads and returns at once; a worker reviews
// the token, runs the handler and replies (http::AsyncHttpHandler). The queue is
// bounded: when it is full the request gets 503 at once, so a flood of remote
// requests costs neither pool threads nor memory. The review itself is bounded by
// the Kubernetes client's request timeout.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "pkg/concurrency/bounded_executor.h"
#include "pkg/http/http_server.h"

namespace keel::pilot::debug {

// Who a reviewed token belongs to (a Kubernetes service account).
struct DebugCaller {
  std::string ns;
  std::string service_account;
};

// Reviews the request's headers (names lower-case): the caller's identity, or an
// error (401; the message is only logged). Runs on a DebugAuth worker; may block.
using TokenReviewer =
    std::function<absl::StatusOr<DebugCaller>(const std::multimap<std::string, std::string>& headers)>;

struct DebugAuthOptions {
  std::string system_namespace = "istio-system";  // the only namespace whose callers are served remotely
  int workers = 2;         // concurrent token reviews
  size_t max_queued = 32;  // reviews waiting for a worker before new ones get 503
};

class DebugAuth {
 public:
  // `reviewer` empty: no way to check tokens (--config-dir without a cluster), so
  // every non-local request gets 401.
  DebugAuth(TokenReviewer reviewer, DebugAuthOptions options = {});
  ~DebugAuth();  // Shutdown()

  // `handler` behind the check. The result must not outlive this object.
  http::AsyncHttpHandler Wrap(http::HttpHandler handler);

  // Answers queued requests with 503 and joins the workers (a review in
  // progress finishes first). Later requests from elsewhere get 503. Idempotent.
  void Shutdown();

 private:
  void Serve(const http::HttpRequest& request, const http::HttpHandler& handler, http::HttpReply reply);
  // On a worker: reviews the token, then runs the handler or answers 401 / 403.
  void Review(const http::HttpRequest& request, const http::HttpHandler& handler, const http::HttpReply& reply);

  const TokenReviewer reviewer_;
  const DebugAuthOptions options_;
  std::unique_ptr<concurrency::BoundedExecutor> reviews_;  // null without a reviewer
};

}  // namespace keel::pilot::debug
