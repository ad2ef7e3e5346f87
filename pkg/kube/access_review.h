// AccessReviewer: asks the API server whether a user may do something
// (SubjectAccessReview, authorization.k8s.io/v1), and remembers each answer
// for a while, as istiod's credentials controller does before serving a
// gateway credential over SDS (pilot/pkg/credentials/kube: one minute, allowed
// and denied alike). A RoleBinding granted or revoked is thus seen at most
// `ttl` later.
#pragma once

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "pkg/kube/kube_client.h"

namespace keel::kube {

// What is asked for: `verb` on `resource` (core group) in namespace `ns`.
struct ResourceAccess {
  std::string verb;
  std::string resource;
  std::string ns;
};

// "system:serviceaccount:NS:NAME", the user a service account's token is.
std::string ServiceAccountUser(const std::string& ns, const std::string& service_account);

class AccessReviewer {
 public:
  struct Options {
    absl::Duration ttl = absl::Minutes(1);
    size_t max_entries = 10000;  // when full, expired answers are dropped; if none were, the new one is not kept
  };
  // `client` must outlive it.
  AccessReviewer(KubeClient* client, Options options);

  // OK if `user` may; PermissionDenied naming the user, the access and the API
  // server's reason if not; Unavailable when the API server gives no answer
  // (not remembered: the next call asks again). Blocks for an HTTP call unless
  // the answer is remembered. Thread-safe.
  absl::Status Check(const std::string& user, const ResourceAccess& access);

  size_t remembered() const;

 private:
  absl::Status Review(const std::string& user, const ResourceAccess& access);

  struct Answer {
    absl::Status status;
    absl::Time expires;
  };
  KubeClient* const client_;
  const Options options_;
  mutable absl::Mutex mu_;
  std::map<std::string, Answer> answers_ ABSL_GUARDED_BY(mu_);  // by user, verb, resource, namespace
};

}  // namespace keel::kube
