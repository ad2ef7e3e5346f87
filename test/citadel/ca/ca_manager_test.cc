// CaManager over a real directory (DirCaStore): the self-signed root is created
// once and survives restarts; rotation inside the grace period makes a new root
// and keeps the old one trusted; a plugged-in CA is loaded and never rotated.
#include "citadel/ca/ca_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "test_pki.h"

namespace keel::citadel::ca {
namespace {

namespace fs = std::filesystem;
using ::keel::citadel::testing::MakeCsr;
using ::keel::citadel::testing::MakePluggedInPki;
using ::keel::citadel::testing::NewKey;
using ::keel::citadel::testing::Verify;
using ::testing::HasSubstr;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

void WriteFile(const fs::path& p, const std::string& content) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
}

size_t CountCerts(const std::string& pem) {
  auto certs = crypto::ParseCertificates(pem);
  return certs.ok() ? certs->size() : 0;
}

class CaManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/keel-ca-manager-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    options_.key_type = crypto::KeyType::kEcdsaP256;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<CaManager> NewManager(const std::string& sub = "ca", WriterGate gate = {}) {
    return std::make_unique<CaManager>(options_, MakeDirCaStore((fs::path(dir_) / sub).string()), std::move(gate));
  }

  // A replica that is not (or not yet) the leader: it writes once `leading` is true.
  static WriterGate Follower(const std::atomic<bool>* leading, absl::Duration timeout = absl::Seconds(10)) {
    return WriterGate{[leading] { return leading->load(); }, absl::Milliseconds(20), timeout};
  }

  std::string Issue(CaManager& m) {
    auto key = NewKey(crypto::KeyType::kEcdsaP256);
    SignRequest request;
    request.csr_pem = MakeCsr(key.get(), "", "", {}, {});
    request.uri_sans = {"spiffe://cluster.local/ns/default/sa/a"};
    auto chain = m.ca().Sign(request);
    EXPECT_TRUE(chain.ok()) << chain.status();
    return chain.ok() ? (*chain)[0] : "";
  }

  std::string dir_;
  CaOptions options_;
};

TEST_F(CaManagerTest, CreatesASelfSignedRootOnceAndKeepsItAcrossRestarts) {
  auto first = NewManager();
  ASSERT_TRUE(first->Init().ok());
  const fs::path ca = fs::path(dir_) / "ca";
  const std::string root = ReadFile(ca / "ca-cert.pem");
  ASSERT_EQ(CountCerts(root), 1u);
  EXPECT_EQ(ReadFile(ca / "root-cert.pem"), root);
  EXPECT_FALSE(ReadFile(ca / "ca-key.pem").empty());
  EXPECT_FALSE(fs::exists(ca / "cert-chain.pem"));
  EXPECT_EQ(fs::status(ca / "ca-key.pem").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write)
      << "the CA key is private";
  EXPECT_EQ(first->ca().RootsPem(), root);
  const std::string leaf_pem = Issue(*first);

  // A restart (a new manager on the same directory) keeps the root.
  auto second = NewManager();
  ASSERT_TRUE(second->Init().ok());
  EXPECT_EQ(second->ca().RootsPem(), root);
  EXPECT_EQ(ReadFile(ca / "ca-cert.pem"), root) << "not rewritten";
  // What the first process issued still verifies against the root the second serves.
  auto leaf = crypto::ParseCertificate(leaf_pem);
  EXPECT_EQ(Verify(leaf->get(), second->ca().RootsPem(), {}), "");
  // And the second issues under the same root.
  auto leaf2 = crypto::ParseCertificate(Issue(*second));
  EXPECT_EQ(Verify(leaf2->get(), root, {}), "");
}

TEST_F(CaManagerTest, RotationInsideTheGracePeriodKeepsTheOldRootTrusted) {
  options_.root_ttl = absl::Hours(1);
  options_.root_grace_ratio = 0.5;
  auto m = NewManager();
  ASSERT_TRUE(m->Init().ok());
  const fs::path ca = fs::path(dir_) / "ca";
  const std::string old_root = ReadFile(ca / "ca-cert.pem");
  const std::string old_leaf = Issue(*m);

  const absl::Time now = absl::Now();
  auto rotated = m->MaybeRotate(now);
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_FALSE(*rotated) << "fresh root: nothing to do";
  EXPECT_EQ(ReadFile(ca / "ca-cert.pem"), old_root);

  rotated = m->MaybeRotate(now + absl::Minutes(40));  // 20 of 62 minutes left < 50%
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  ASSERT_TRUE(*rotated);
  const std::string new_root = ReadFile(ca / "ca-cert.pem");
  EXPECT_NE(new_root, old_root);
  const std::string roots = ReadFile(ca / "root-cert.pem");
  EXPECT_EQ(CountCerts(roots), 2u);
  EXPECT_EQ(roots, new_root + old_root) << "new root first, old root kept";
  EXPECT_EQ(m->ca().RootsPem(), roots);

  // Old and new workload certificates both verify against the published bundle...
  auto old_cert = crypto::ParseCertificate(old_leaf);
  auto new_cert = crypto::ParseCertificate(Issue(*m));
  EXPECT_EQ(Verify(old_cert->get(), roots, {}), "");
  EXPECT_EQ(Verify(new_cert->get(), roots, {}), "");
  // ... and the new one is issued by the new root.
  EXPECT_EQ(Verify(new_cert->get(), new_root, {}), "");
  EXPECT_NE(Verify(new_cert->get(), old_root, {}), "");

  // A restart loads the rotated state.
  auto restarted = NewManager();
  ASSERT_TRUE(restarted->Init().ok());
  EXPECT_EQ(restarted->ca().RootsPem(), roots);
  EXPECT_EQ(Verify(crypto::ParseCertificate(Issue(*restarted))->get(), new_root, {}), "");
}

TEST_F(CaManagerTest, RotationDropsRootsThatHaveExpired) {
  options_.root_ttl = absl::Hours(1);
  options_.root_grace_ratio = 0.5;
  auto m = NewManager();
  ASSERT_TRUE(m->Init().ok());
  auto rotated = m->MaybeRotate(absl::Now() + absl::Hours(2));  // the old root is past its notAfter
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  ASSERT_TRUE(*rotated);
  EXPECT_EQ(CountCerts(ReadFile(fs::path(dir_) / "ca" / "root-cert.pem")), 1u);
}

TEST_F(CaManagerTest, PluggedInCaIsUsedAndNeverRotated) {
  auto pki = MakePluggedInPki(1);
  const fs::path ca = fs::path(dir_) / "ca";
  fs::create_directories(ca);
  WriteFile(ca / "ca-cert.pem", pki.files.ca_cert);
  WriteFile(ca / "ca-key.pem", pki.files.ca_key);
  WriteFile(ca / "cert-chain.pem", pki.files.cert_chain);
  WriteFile(ca / "root-cert.pem", pki.files.root_cert);
  options_.root_grace_ratio = 1.0;  // every certificate is "in its grace period"
  auto m = NewManager();
  ASSERT_TRUE(m->Init().ok());
  EXPECT_EQ(m->ca().RootsPem(), pki.root.cert_pem);
  auto leaf = crypto::ParseCertificate(Issue(*m));
  EXPECT_EQ(Verify(leaf->get(), pki.root.cert_pem, {pki.intermediates[0].cert_pem}), "");

  auto rotated = m->MaybeRotate(absl::Now() + absl::Hours(24 * 400));
  ASSERT_TRUE(rotated.ok());
  EXPECT_FALSE(*rotated);
  EXPECT_EQ(ReadFile(ca / "ca-cert.pem"), pki.files.ca_cert) << "Keel never writes a plugged-in CA";
  EXPECT_EQ(ReadFile(ca / "root-cert.pem"), pki.files.root_cert);
}

TEST_F(CaManagerTest, PluggedInCaWithoutCertChainIsNeverRotated) {
  // Istio reads cert-chain.pem as optional; a plugged-in intermediate signed
  // directly by the root works without it and must not be replaced by Keel.
  auto pki = MakePluggedInPki(1);
  const fs::path ca = fs::path(dir_) / "ca";
  fs::create_directories(ca);
  WriteFile(ca / "ca-cert.pem", pki.files.ca_cert);
  WriteFile(ca / "ca-key.pem", pki.files.ca_key);
  WriteFile(ca / "root-cert.pem", pki.files.root_cert);
  options_.root_grace_ratio = 1.0;
  auto m = NewManager();
  ASSERT_TRUE(m->Init().ok());
  auto rotated = m->MaybeRotate(absl::Now() + absl::Hours(24 * 400));
  ASSERT_TRUE(rotated.ok());
  EXPECT_FALSE(*rotated);
  EXPECT_EQ(ReadFile(ca / "ca-cert.pem"), pki.files.ca_cert);
}

TEST_F(CaManagerTest, BrokenPluggedInCaIsAClearError) {
  auto pki = MakePluggedInPki(1);
  const fs::path ca = fs::path(dir_) / "ca";
  fs::create_directories(ca);
  WriteFile(ca / "ca-cert.pem", pki.files.ca_cert);
  WriteFile(ca / "ca-key.pem", pki.root.key_pem);
  WriteFile(ca / "cert-chain.pem", pki.files.cert_chain);
  WriteFile(ca / "root-cert.pem", pki.files.root_cert);
  auto st = NewManager()->Init();
  ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("ca-key.pem does not match ca-cert.pem"));
  EXPECT_THAT(st.message(), HasSubstr(ca.string())) << "names where the files are";
}

TEST_F(CaManagerTest, OnlyOneOfCertAndKeyIsAnError) {
  const fs::path ca = fs::path(dir_) / "ca";
  fs::create_directories(ca);
  WriteFile(ca / "ca-cert.pem", MakePluggedInPki(0).files.ca_cert);
  auto st = NewManager()->Init();
  ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("has only one of ca-cert.pem and ca-key.pem"));
}

TEST_F(CaManagerTest, AFollowerWaitsForTheLeadersRootAndNeverWritesOne) {
  std::atomic<bool> never{false};
  auto follower = NewManager("ca", Follower(&never));
  absl::Status follower_init;
  std::thread waiting([&] { follower_init = follower->Init(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(fs::exists(fs::path(dir_) / "ca" / "ca-cert.pem")) << "the follower created nothing";
  // The leader's root appears at once (a directory rename), as a Secret does.
  auto leader = NewManager("staging");
  ASSERT_TRUE(leader->Init().ok());
  fs::rename(fs::path(dir_) / "staging", fs::path(dir_) / "ca");
  waiting.join();
  ASSERT_TRUE(follower_init.ok()) << follower_init;
  EXPECT_EQ(follower->ca().RootsPem(), leader->ca().RootsPem()) << "one root for both";
}

TEST_F(CaManagerTest, AFollowerWithoutALeaderGivesUpUnavailable) {
  std::atomic<bool> never{false};
  auto st = NewManager("ca", Follower(&never, absl::Milliseconds(200)))->Init();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(st.message(), HasSubstr("not the leader"));
}

TEST_F(CaManagerTest, AFollowerBecomingLeaderCreatesTheRoot) {
  std::atomic<bool> leading{false};
  auto m = NewManager("ca", Follower(&leading));
  std::thread elect([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    leading = true;
  });
  ASSERT_TRUE(m->Init().ok());
  elect.join();
  EXPECT_TRUE(fs::exists(fs::path(dir_) / "ca" / "ca-cert.pem"));
}

TEST_F(CaManagerTest, InTheGracePeriodTheLeaderRenewsAndTheFollowerLoadsItsRoot) {
  options_.root_ttl = absl::Hours(1);
  options_.root_grace_ratio = 0.5;
  std::atomic<bool> yes{true}, no{false};
  auto leader = NewManager("ca", Follower(&yes));
  ASSERT_TRUE(leader->Init().ok());
  auto follower = NewManager("ca", Follower(&no));
  ASSERT_TRUE(follower->Init().ok());
  const std::string old_roots = follower->ca().RootsPem();
  const absl::Time late = absl::Now() + absl::Minutes(40);

  auto rotated = follower->MaybeRotate(late);
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_FALSE(*rotated) << "the follower does not renew";
  EXPECT_EQ(follower->ca().RootsPem(), old_roots);

  rotated = leader->MaybeRotate(late);
  ASSERT_TRUE(rotated.ok() && *rotated);
  rotated = follower->MaybeRotate(late);
  ASSERT_TRUE(rotated.ok() && *rotated) << "the follower takes the renewed root";
  EXPECT_EQ(follower->ca().RootsPem(), leader->ca().RootsPem());
  EXPECT_NE(follower->ca().RootsPem(), old_roots);
}

}  // namespace
}  // namespace keel::citadel::ca
