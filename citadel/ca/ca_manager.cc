#include "citadel/ca/ca_manager.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"

namespace keel::citadel::ca {

CaManager::CaManager(CaOptions options, CaStorePtr store, WriterGate gate)
    : store_(std::move(store)), gate_(std::move(gate)), ca_(std::move(options), nullptr) {}

absl::Status CaManager::Install(const StoredCa& stored) {
  auto bundle = KeyCertBundle::Create(stored.files);
  if (!bundle.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(store_->Describe(), ": ", bundle.status().message()));
  }
  ca_.SetBundle(*bundle);
  stored_ = stored;
  return absl::OkStatus();
}

absl::Status CaManager::Init() {
  const absl::Time deadline = absl::Now() + gate_.timeout;
  absl::StatusOr<std::optional<StoredCa>> loaded;
  for (bool waiting_logged = false;; absl::SleepFor(gate_.poll)) {
    loaded = store_->Load();
    if (!loaded.ok()) return loaded.status();
    if (*loaded) {
      spdlog::info("CA: using {} root from {}", (*loaded)->plugged_in ? "plugged-in" : "self-signed",
                   store_->Describe());
      return Install(**loaded);
    }
    if (MayWrite()) break;
    if (absl::Now() >= deadline) {
      return absl::UnavailableError(absl::StrCat("no CA root in ", store_->Describe(), " after ",
                                                 absl::FormatDuration(gate_.timeout),
                                                 ", and this replica is not the leader that creates it"));
    }
    if (!waiting_logged) {
      spdlog::info("CA: no root in {} yet; waiting for the leader to create it", store_->Describe());
      waiting_logged = true;
    }
  }
  auto files = CreateSelfSignedRoot(ca_.options());
  if (!files.ok()) return files.status();
  absl::Status saved = store_->Save(*files, std::nullopt);
  if (absl::IsAlreadyExists(saved)) {  // another replica created it first: use theirs
    loaded = store_->Load();
    if (!loaded.ok()) return loaded.status();
    if (!*loaded) return absl::UnavailableError("CA secret vanished right after a conflicting create");
    return Install(**loaded);
  }
  if (!saved.ok()) return saved;
  spdlog::info("CA: created a self-signed root in {}", store_->Describe());
  loaded = store_->Load();  // read back (resourceVersion for later updates)
  if (!loaded.ok()) return loaded.status();
  return Install(loaded->value_or(StoredCa{*files, false, ""}));
}

absl::StatusOr<bool> CaManager::MaybeRotate(absl::Time now) {
  KeyCertBundlePtr bundle = ca_.bundle();
  if (!bundle || !stored_ || stored_->plugged_in) return false;
  if (!InGracePeriod(bundle->signing_cert(), ca_.options().root_grace_ratio, now)) return false;
  if (!MayWrite()) {  // the leader renews it: take its root once stored
    auto loaded = store_->Load();
    if (!loaded.ok()) return loaded.status();
    if (!*loaded || (*loaded)->files.ca_cert == stored_->files.ca_cert) return false;
    if (auto st = Install(**loaded); !st.ok()) return st;
    spdlog::info("CA: installed the root the leader renewed");
    return true;
  }
  // Keep the roots that are still valid, so certificates they issued keep verifying.
  std::string previous;
  if (auto roots = crypto::ParseCertificates(bundle->roots_pem()); roots.ok()) {
    for (auto& r : *roots) {
      if (crypto::NotAfterUnix(r.get()) > absl::ToUnixSeconds(now)) previous += crypto::CertificateToPem(r.get());
    }
  }
  auto files = CreateSelfSignedRoot(ca_.options(), previous);
  if (!files.ok()) return files.status();
  absl::Status saved = store_->Save(*files, stored_);
  if (!saved.ok() && !absl::IsAlreadyExists(saved)) return saved;
  auto loaded = store_->Load();  // on a conflict, another replica rotated: take theirs
  if (!loaded.ok()) return loaded.status();
  if (auto st = Install(loaded->value_or(StoredCa{*files, false, ""})); !st.ok()) return st;
  spdlog::info("CA: rotated the self-signed root; the previous root stays trusted until it expires");
  return true;
}

}  // namespace keel::citadel::ca
