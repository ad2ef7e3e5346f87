// CredentialProvider: the credential to present on each API request, from a
// ClusterConfig: static token, a token file (re-read when it changes, as the
// kubelet rotates projected tokens), client certificates, or an exec plugin
// (run on first use, cached until its expirationTimestamp or Invalidate()).
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pkg/kube/kubeconfig.h"

namespace keel::kube {

struct Credential {
  std::string bearer_token;     // empty: none
  std::string client_cert_pem;  // empty: none
  std::string client_key_pem;
};

class CredentialProvider {
 public:
  explicit CredentialProvider(ClusterConfig config) : config_(std::move(config)) {}

  // Thread-safe. Errors: Unauthenticated when the exec plugin fails (with its
  // stderr) or the token file cannot be read.
  absl::StatusOr<Credential> Get();

  // The API server answered 401 to `failed`: forget the cached exec credential
  // if it is still that one. Requests that failed concurrently with the same
  // credential therefore cause one plugin run between them, not one each
  // (client-go's exec authenticator does the same).
  void Invalidate(const Credential& failed);

  // How many times the exec plugin ran (for tests and /debug).
  int exec_runs() const;

 private:
  absl::StatusOr<Credential> RunExecLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ClusterConfig config_;
  mutable std::mutex mu_;
  std::optional<Credential> exec_cached_ ABSL_GUARDED_BY(mu_);
  absl::Time exec_expiry_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int exec_runs_ ABSL_GUARDED_BY(mu_) = 0;
  std::string token_file_content_ ABSL_GUARDED_BY(mu_);
  int64_t token_file_mtime_ ABSL_GUARDED_BY(mu_) = -1;
};

// Runs `argv` with extra `env`, feeding nothing on stdin; returns stdout.
// Errors: Unavailable naming the command when it cannot start, exits non-zero
// (with its stderr) or runs longer than `timeout`.
absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv,
                                       const std::map<std::string, std::string>& env, absl::Duration timeout);

}  // namespace keel::kube
