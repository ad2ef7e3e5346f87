// Where the CA's root of trust lives, by istiod's precedence: a plugged-in CA
// (Secret `cacerts` / the same files in a directory) over a self-signed root
// persisted in Secret `istio-ca-secret` (or a directory), created when absent.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "citadel/ca/key_cert_bundle.h"
#include "pkg/kube/kube_client.h"

namespace keel::citadel::ca {

struct StoredCa {
  CaFiles files;
  bool plugged_in = false;        // from cacerts: never written by Keel
  std::string resource_version;   // of the Secret, for optimistic updates
};

class CaStore {
 public:
  virtual ~CaStore() = default;
  // The stored CA, or nullopt when there is none yet.
  virtual absl::StatusOr<std::optional<StoredCa>> Load() = 0;
  // Stores a self-signed CA. `previous` is what Load() returned (nullopt: create;
  // the create fails with AlreadyExists if another replica won the race).
  virtual absl::Status Save(const CaFiles& files, const std::optional<StoredCa>& previous) = 0;
  virtual std::string Describe() const = 0;
};

using CaStorePtr = std::unique_ptr<CaStore>;

// Files in `dir`: ca-cert.pem, ca-key.pem, and for a plugged-in CA also
// cert-chain.pem and root-cert.pem. Plugged-in (never written by Keel): a
// cert-chain.pem exists or ca-cert.pem is not self-signed.
CaStorePtr MakeDirCaStore(const std::string& dir);

// Secrets `cacerts` (read) and `istio-ca-secret` (read/create/update) in `ns`.
CaStorePtr MakeSecretCaStore(kube::KubeClient* client, const std::string& ns);

}  // namespace keel::citadel::ca
