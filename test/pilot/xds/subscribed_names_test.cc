#include "pilot/xds/subscribed_names.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace keel::pilot::xds {
namespace {

const std::string kReviews = "outbound|9080||reviews.default.svc.cluster.local";
const std::string kReviewsV1 = "outbound|9080|v1|reviews.default.svc.cluster.local";
const std::string kRatings = "outbound|9080||ratings.default.svc.cluster.local";

TEST(SubscribedNamesTest, SortsAndDropsDuplicates) {
  SubscribedNames names({kReviews, kRatings, kReviews});
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.end()), (std::vector<std::string>{kRatings, kReviews}));
  EXPECT_EQ(names.size(), 2u);
  EXPECT_TRUE(names.contains(kRatings));
  EXPECT_FALSE(names.contains(kReviewsV1));
  EXPECT_TRUE(SubscribedNames().empty());
  EXPECT_EQ(SubscribedNames(std::vector<std::string>{}), SubscribedNames());
}

TEST(SubscribedNamesTest, EqualNamesShareOneSetWhileEitherLives) {
  const size_t before = SubscribedNames::InternedCount();
  {
    SubscribedNames a({kReviews, kRatings});
    SubscribedNames b({kRatings, kReviews});  // another order, the same names
    EXPECT_EQ(a, b);
    EXPECT_EQ(&*a.begin(), &*b.begin());  // one copy of the strings
    EXPECT_NE(a, SubscribedNames({kReviews}));
    EXPECT_EQ(SubscribedNames::InternedCount(), before + 1);
  }
  EXPECT_EQ(SubscribedNames::InternedCount(), before);  // freed with its last holder
}

TEST(SubscribedNamesTest, SameAsComparesAnyOrderWithoutDuplicates) {
  SubscribedNames names({kReviews, kRatings});
  EXPECT_TRUE(names.SameAs({kReviews, kRatings}));
  EXPECT_TRUE(names.SameAs({kRatings, kReviews}));
  EXPECT_FALSE(names.SameAs({kReviews}));
  EXPECT_FALSE(names.SameAs({kReviews, kReviews}));
  EXPECT_FALSE(names.SameAs({kReviews, kReviewsV1}));
  EXPECT_TRUE(SubscribedNames().SameAs({}));
}

TEST(SubscribedNamesTest, WithAddsThenRemoves) {
  SubscribedNames names({kReviews});
  EXPECT_EQ(names.With({kRatings}, {}), SubscribedNames({kReviews, kRatings}));
  EXPECT_EQ(names.With({kRatings}, {kReviews}), SubscribedNames({kRatings}));
  EXPECT_EQ(names.With({kRatings}, {kRatings}), names);  // subscribed and unsubscribed in one request
  EXPECT_EQ(names.With({}, {}), names);
}

TEST(SubscribedNamesTest, NamesOfHostsFindsEverySubsetAndPortOfAHost) {
  SubscribedNames names({kReviews, kReviewsV1, kRatings, "outbound|80||reviews.default.svc.cluster.local",
                         "not a cluster name", "inbound|9080||"});
  EXPECT_EQ(names.NamesOfHosts({"reviews.default.svc.cluster.local"}),
            SubscribedNames({kReviews, kReviewsV1, "outbound|80||reviews.default.svc.cluster.local"}));
  EXPECT_EQ(names.NamesOfHosts({"ratings.default.svc.cluster.local", "absent.default.svc.cluster.local"}),
            SubscribedNames({kRatings}));
  EXPECT_TRUE(names.NamesOfHosts({"absent"}).empty());
}

TEST(SubscribedNamesTest, ThreadsInterningTheSameNamesGetOneSet) {
  std::vector<std::string> many;
  for (int i = 0; i < 200; ++i) many.push_back("outbound|80||svc-" + std::to_string(i) + ".ns.svc.cluster.local");
  const size_t before = SubscribedNames::InternedCount();
  std::vector<SubscribedNames> made(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) made[t] = SubscribedNames(many);  // made and dropped
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& m : made) EXPECT_EQ(m, made[0]);
  EXPECT_EQ(SubscribedNames::InternedCount(), before + 1);
  made.clear();
  EXPECT_EQ(SubscribedNames::InternedCount(), before);
}

}  // namespace
}  // namespace keel::pilot::xds
