// PeerAuthentication composition (istiod's ComposePeerAuthentication and
// GetNamespaceMutualTLSMode), from parsed objects.
#include "pilot/model/peer_authentication.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test/pilot/testing/configs.h"

namespace keel::pilot::model {
namespace {

std::string Policy(const std::string& name, const std::string& ns, const std::string& spec,
                   const std::string& created = "2024-01-01T00:00:00Z") {
  return "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: " + name +
         ", namespace: " + ns + ", creationTimestamp: \"" + created + "\"}\nspec: " + spec + "\n";
}

PeerAuthenticationIndex Index(const std::string& yaml) {
  return PeerAuthenticationIndex(::keel::pilot::testing::SnapshotOf(yaml), "istio-system");
}

const std::map<std::string, std::string> kReviews = {{"app", "reviews"}};

TEST(PeerAuthenticationTest, NothingIsPermissiveAndNamespaceModeUnknown) {
  auto index = Index("");
  EXPECT_EQ(index.ForWorkload("shop", kReviews).mode, MtlsMode::kPermissive);
  EXPECT_EQ(index.NamespaceMode("shop"), MtlsMode::kUnknown);
}

TEST(PeerAuthenticationTest, MeshThenNamespaceThenWorkloadUnsetInherits) {
  auto index = Index(Policy("mesh", "istio-system", "{mtls: {mode: STRICT}}") +
                     Policy("ns", "shop", "{mtls: {mode: UNSET}}") +
                     Policy("wl", "shop", "{selector: {matchLabels: {app: reviews}}, portLevelMtls: {9080: {mode: DISABLE}, 9090: {}}}"));
  const WorkloadMtls reviews = index.ForWorkload("shop", kReviews);
  EXPECT_EQ(reviews.mode, MtlsMode::kStrict) << "UNSET namespace and workload modes inherit the mesh's";
  EXPECT_EQ(reviews.ForPort(9080), MtlsMode::kDisable);
  EXPECT_EQ(reviews.ForPort(9090), MtlsMode::kStrict) << "an UNSET port inherits the workload's mode";
  EXPECT_EQ(reviews.ForPort(1234), MtlsMode::kStrict);
  EXPECT_TRUE(index.ForWorkload("shop", {{"app", "ratings"}}).per_port.empty()) << "selector does not match";
  EXPECT_EQ(index.NamespaceMode("shop"), MtlsMode::kStrict);
  EXPECT_EQ(index.NamespaceMode("other"), MtlsMode::kStrict);
}

TEST(PeerAuthenticationTest, TheOldestOfEachLevelWins) {
  auto index = Index(Policy("b-newer", "shop", "{mtls: {mode: DISABLE}}", "2024-02-01T00:00:00Z") +
                     Policy("a-older", "shop", "{mtls: {mode: STRICT}}", "2024-01-01T00:00:00Z") +
                     Policy("wl-new", "shop", "{selector: {matchLabels: {app: reviews}}, mtls: {mode: PERMISSIVE}}",
                            "2024-03-01T00:00:00Z") +
                     Policy("wl-old", "shop", "{selector: {matchLabels: {app: reviews}}, mtls: {mode: DISABLE}}",
                            "2024-01-15T00:00:00Z"));
  EXPECT_EQ(index.NamespaceMode("shop"), MtlsMode::kStrict);
  EXPECT_EQ(index.ForWorkload("shop", kReviews).mode, MtlsMode::kDisable);
  EXPECT_EQ(index.ForWorkload("shop", {{"app", "ratings"}}).mode, MtlsMode::kStrict);
}

TEST(PeerAuthenticationTest, SelectorPoliciesInTheRootNamespaceAreIgnored) {
  auto index = Index(Policy("wl", "istio-system", "{selector: {matchLabels: {app: reviews}}, mtls: {mode: STRICT}}"));
  EXPECT_EQ(index.ForWorkload("shop", kReviews).mode, MtlsMode::kPermissive);
  EXPECT_EQ(index.ForWorkload("istio-system", kReviews).mode, MtlsMode::kPermissive);
  EXPECT_EQ(index.NamespaceMode("shop"), MtlsMode::kUnknown);
}

}  // namespace
}  // namespace keel::pilot::model
