// CaManager: brings the CA up from its store (creating a self-signed root when
// there is none) and renews a self-signed root inside its grace period, keeping
// the old root trusted during the overlap.
#pragma once

#include <optional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "citadel/ca/ca_store.h"
#include "citadel/ca/cert_signer.h"

namespace keel::citadel::ca {

class CaManager {
 public:
  CaManager(CaOptions options, CaStorePtr store);

  // Loads or creates the root of trust and installs it. When several replicas
  // start together, exactly one creation succeeds (the API server's create is
  // atomic); the others load what it wrote. Errors: the store's, or
  // InvalidArgument for a plugged-in CA that does not hold together.
  absl::Status Init();

  // Renews a self-signed root whose remaining life is inside the grace period.
  // Returns whether it rotated. A plugged-in CA is never rotated by Keel.
  absl::StatusOr<bool> MaybeRotate(absl::Time now);

  IstioCa& ca() { return ca_; }
  const CaStore& store() const { return *store_; }

 private:
  absl::Status Install(const StoredCa& stored);

  CaStorePtr store_;
  IstioCa ca_;
  std::optional<StoredCa> stored_;
};

}  // namespace keel::citadel::ca
