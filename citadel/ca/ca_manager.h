// CaManager: brings the CA up from its store (creating a self-signed root when
// there is none) and renews a self-signed root inside its grace period, keeping
// the old root trusted during the overlap.
#pragma once

#include <functional>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "citadel/ca/ca_store.h"
#include "citadel/ca/cert_signer.h"

namespace keel::citadel::ca {

// Which replica writes the self-signed root when several share the store: the
// one for which `may_write()` is true (the leader). The others wait for it to
// appear, polling every `poll`, for at most `timeout`. A null `may_write`: this
// process may (one replica, or a directory store).
struct WriterGate {
  std::function<bool()> may_write;
  absl::Duration poll = absl::Milliseconds(500);
  absl::Duration timeout = absl::Seconds(70);
};

class CaManager {
 public:
  CaManager(CaOptions options, CaStorePtr store, WriterGate gate = {});

  // Loads or creates the root of trust and installs it. Only the gate's writer
  // creates a missing root (and the API server's create is atomic besides, so
  // of two writers one wins and the other loads its root). Errors: the store's;
  // InvalidArgument for a plugged-in CA that does not hold together;
  // Unavailable when no root appeared within the gate's timeout.
  absl::Status Init();

  // Inside the grace period of a self-signed root: the writer renews it; the
  // others load the renewed root once the writer has stored it. Returns whether
  // the installed root changed. A plugged-in CA is never rotated by Keel.
  absl::StatusOr<bool> MaybeRotate(absl::Time now);

  IstioCa& ca() { return ca_; }
  const CaStore& store() const { return *store_; }

 private:
  absl::Status Install(const StoredCa& stored);
  bool MayWrite() const { return !gate_.may_write || gate_.may_write(); }

  CaStorePtr store_;
  const WriterGate gate_;
  IstioCa ca_;
  std::optional<StoredCa> stored_;
};

}  // namespace keel::citadel::ca
