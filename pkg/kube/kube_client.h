// KubeClient: the few HTTP calls Keel makes to the Kubernetes API server
// (cpprestsdk behind this header, so only rest_client.cc pays its compile time).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "pkg/kube/kubeconfig.h"

namespace keel::kube {

struct KubeResponse {
  int status = 0;    // HTTP status
  std::string body;  // JSON (a Kubernetes object, list or Status)
};

// One watch response body, read a line (one JSON event) at a time.
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  // Blocks for the next event line; nullopt when the server ended the stream
  // cleanly. Errors: Unavailable when the connection broke or Cancel() was called.
  virtual absl::StatusOr<std::optional<std::string>> NextLine() = 0;
  // Makes a blocked NextLine() return promptly. Thread-safe.
  virtual void Cancel() = 0;
};

class KubeClient {
 public:
  virtual ~KubeClient() = default;

  // `path` includes the query ("/api/v1/pods?limit=500"). Any HTTP status is a
  // successful call (check KubeResponse::status); errors are transport failures
  // (Unavailable) and credentials that cannot be obtained (Unauthenticated).
  // A 401 refreshes the credential once and retries.
  virtual absl::StatusOr<KubeResponse> Request(const std::string& method, const std::string& path,
                                               const std::string& body = "",
                                               const std::string& content_type = "application/json") = 0;

  // Opens a watch (`path` has watch=true). A non-200 answer is an error whose
  // message holds the status and body; HTTP 410 maps to OutOfRange.
  virtual absl::StatusOr<std::unique_ptr<WatchStream>> Watch(const std::string& path) = 0;

  virtual const std::string& server() const = 0;
};

using KubeClientPtr = std::unique_ptr<KubeClient>;

struct KubeClientOptions {
  int watch_idle_timeout_seconds = 330;  // above the watches' timeoutSeconds (300)
  int request_timeout_seconds = 60;
};

absl::StatusOr<KubeClientPtr> CreateKubeClient(const ClusterConfig& config, const KubeClientOptions& options = {});

// Maps an HTTP status to the canonical code (401 Unauthenticated, 403
// PermissionDenied, 404 NotFound, 409 AlreadyExists, 410 OutOfRange, 422
// InvalidArgument, 429/5xx Unavailable, ...), with `message`.
absl::Status HttpStatusToStatus(int http_status, const std::string& message);

}  // namespace keel::kube
