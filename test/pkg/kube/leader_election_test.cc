// LeaderElector against the real kube-apiserver of the `kube` fixture
// (KUBECONFIG): one leader among racing candidates, a held Lease respected until
// it has been seen unchanged for its whole term, takeover after release, and a
// leader that loses its Lease stepping down. Each test uses its own Lease name.
#include "pkg/kube/leader_election.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "pkg/kube/kubeconfig.h"

namespace keel::kube {
namespace {

using namespace std::chrono_literals;

std::string UniqueName(const std::string& prefix) {
  std::random_device rd;
  return absl::StrCat(prefix, "-", rd() % 1000000);
}

class LeaderElectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* path = std::getenv("KUBECONFIG");
    ASSERT_NE(path, nullptr) << "needs the kube fixture (KUBECONFIG)";
    auto config = LoadKubeconfig(path);
    ASSERT_TRUE(config.ok()) << config.status();
    auto client = CreateKubeClient(*config);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
    lease_ = UniqueName("lease");
  }

  LeaderElectionOptions Options(const std::string& identity, absl::Duration lease = absl::Seconds(2)) {
    LeaderElectionOptions o;
    o.ns = "default";
    o.name = lease_;
    o.identity = identity;
    o.lease_duration = lease;
    o.renew_deadline = lease / 2;
    o.retry_period = absl::Milliseconds(200);
    return o;
  }

  // Writes the Lease as another candidate would (holder `holder`, renewed now).
  void WriteForeignLease(const std::string& holder, int duration_seconds) {
    const std::string body = absl::StrCat(
        R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":")", lease_,
        R"(","namespace":"default"},"spec":{"holderIdentity":")", holder, R"(","leaseDurationSeconds":)",
        duration_seconds, R"(,"renewTime":")",
        absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone()), R"("}})");
    auto resp = client_->Request("POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases", body);
    ASSERT_TRUE(resp.ok()) << resp.status();
    ASSERT_EQ(resp->status, 201) << resp->body;
  }

  template <typename Fn>
  static bool Eventually(Fn fn, std::chrono::milliseconds timeout) {
    for (auto end = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < end;) {
      if (fn()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return fn();
  }

  KubeClientPtr client_;
  std::string lease_;
};

TEST_F(LeaderElectionTest, OneLeaderAmongRacingCandidates) {
  std::vector<std::unique_ptr<LeaderElector>> candidates;
  for (int i = 0; i < 3; ++i) {
    candidates.push_back(std::make_unique<LeaderElector>(client_.get(), Options(absl::StrCat("candidate-", i))));
  }
  for (auto& c : candidates) c->Start();
  auto leaders = [&] {
    int n = 0;
    for (auto& c : candidates) n += c->IsLeader();
    return n;
  };
  ASSERT_TRUE(Eventually([&] { return leaders() == 1; }, 5s));
  // It stays one for several renewals.
  for (int i = 0; i < 15; ++i) {
    EXPECT_LE(leaders(), 1);
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(leaders(), 1);
  int leader = 0;
  while (!candidates[leader]->IsLeader()) ++leader;
  for (auto& c : candidates) EXPECT_EQ(c->ObservedHolder(), absl::StrCat("candidate-", leader));

  // The leader stops and releases: another takes over without waiting out the term.
  const auto released_at = std::chrono::steady_clock::now();
  candidates[leader]->Stop();
  ASSERT_TRUE(Eventually([&] { return leaders() == 1; }, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - released_at, 1500ms) << "a released Lease is free at once";
  EXPECT_FALSE(candidates[leader]->IsLeader());
}

TEST_F(LeaderElectionTest, AHeldLeaseIsRespectedForItsWholeTerm) {
  WriteForeignLease("someone-else", 3);
  LeaderElector elector(client_.get(), Options("me"));
  auto first = elector.TryAcquireOrRenew();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(*first);
  EXPECT_EQ(elector.ObservedHolder(), "someone-else");
  const auto observed = std::chrono::steady_clock::now();
  // Not before 3 s of our own observation (the holder never renews).
  elector.Start();
  ASSERT_TRUE(Eventually([&] { return elector.IsLeader(); }, 8s));
  EXPECT_GE(std::chrono::steady_clock::now() - observed, 2900ms);
  EXPECT_EQ(elector.ObservedHolder(), "me");
}

TEST_F(LeaderElectionTest, ALeaderWhoseLeaseIsTakenStepsDown) {
  std::atomic<int> changes{0};
  LeaderElector elector(client_.get(), Options("me", absl::Seconds(30)), [&](bool) { ++changes; });
  elector.Start();
  ASSERT_TRUE(Eventually([&] { return elector.IsLeader(); }, 5s));
  // An administrator (or a split brain) rewrites the Lease for another holder.
  // The leader renews every 200 ms, so a write may meet 409: read and write again.
  const std::string path = absl::StrCat("/apis/coordination.k8s.io/v1/namespaces/default/leases/", lease_);
  int status = 0;
  for (int attempt = 0; attempt < 20 && status != 200; ++attempt) {
    auto got = client_->Request("GET", path);
    ASSERT_TRUE(got.ok() && got->status == 200);
    std::string body = got->body;
    const std::string from = R"("holderIdentity":"me")";
    ASSERT_NE(body.find(from), std::string::npos) << body;
    body.replace(body.find(from), from.size(), R"("holderIdentity":"intruder")");
    auto put = client_->Request("PUT", path, body);
    ASSERT_TRUE(put.ok());
    status = put->status;
    ASSERT_TRUE(status == 200 || status == 409) << put->body;
  }
  ASSERT_EQ(status, 200) << "20 conflicting writes in a row";
  ASSERT_TRUE(Eventually([&] { return !elector.IsLeader(); }, 5s));
  EXPECT_EQ(elector.ObservedHolder(), "intruder");
  EXPECT_EQ(changes.load(), 2) << "acquired, then lost";
}

}  // namespace
}  // namespace keel::kube
