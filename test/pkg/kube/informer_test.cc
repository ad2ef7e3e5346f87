// Informer and CredentialProvider cases the real API server cannot produce on
// demand (a continue token expiring between two pages of one list; two requests
// failing with the same stale credential). Everything else about the watcher is
// tested against the real kube-apiserver in test/integration/.
#include "pkg/kube/informer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "pkg/kube/credentials.h"

namespace keel::kube {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A watch that sends `lines`, then blocks until cancelled.
class ScriptedWatch final : public WatchStream {
 public:
  explicit ScriptedWatch(std::deque<std::string> lines) : lines_(std::move(lines)) {}
  absl::StatusOr<std::optional<std::string>> NextLine() override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return cancelled_ || !lines_.empty(); });
    if (!lines_.empty()) {
      std::string l = std::move(lines_.front());
      lines_.pop_front();
      return std::optional<std::string>(std::move(l));
    }
    return absl::UnavailableError("cancelled");
  }
  void Cancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> lines_;
  bool cancelled_ = false;
};

// Answers list requests from a queue of scripted responses (in order), and
// watches from a queue of scripted line sets.
class ScriptedClient final : public KubeClient {
 public:
  void AddList(int status, std::string body) { lists_.push_back({status, std::move(body)}); }
  void AddWatch(std::deque<std::string> lines) { watches_.push_back(std::move(lines)); }

  absl::StatusOr<KubeResponse> Request(const std::string&, const std::string& path, const std::string&,
                                       const std::string&) override {
    std::lock_guard<std::mutex> lock(mu_);
    paths_.push_back(path);
    if (lists_.empty()) return absl::UnavailableError("no more scripted lists");
    KubeResponse r = lists_.front();
    lists_.pop_front();
    return r;
  }
  absl::StatusOr<std::unique_ptr<WatchStream>> Watch(const std::string& path) override {
    std::lock_guard<std::mutex> lock(mu_);
    paths_.push_back(path);
    std::deque<std::string> lines;
    if (!watches_.empty()) {
      lines = std::move(watches_.front());
      watches_.pop_front();
    }
    return std::unique_ptr<WatchStream>(new ScriptedWatch(std::move(lines)));
  }
  const std::string& server() const override { return server_; }
  std::vector<std::string> paths() const {
    std::lock_guard<std::mutex> lock(mu_);
    return paths_;
  }

 private:
  mutable std::mutex mu_;
  std::deque<KubeResponse> lists_;
  std::deque<std::deque<std::string>> watches_;
  std::vector<std::string> paths_;
  std::string server_ = "https://127.0.0.1:1";
};

std::string Pod(const std::string& name, const std::string& rv) {
  return R"({"metadata":{"namespace":"ns","name":")" + name + R"(","resourceVersion":")" + rv + R"("}})";
}

std::string Page(const std::vector<std::string>& items, const std::string& rv, const std::string& cont) {
  std::string out = R"({"kind":"PodList","metadata":{"resourceVersion":")" + rv + R"(","continue":")" + cont +
                    R"("},"items":[)";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  return out + "]}";
}

const char kExpired[] = R"({"kind":"Status","code":410,"reason":"Expired","message":"continue token too old"})";

class Recorder {
 public:
  Informer::Handler Handler() {
    return [this](std::vector<InformerEvent> events) {
      std::lock_guard<std::mutex> lock(mu_);
      std::vector<std::string> batch;
      for (const auto& e : events) {
        const char* t = e.type == EventType::kAdded ? "ADDED " : e.type == EventType::kModified ? "MODIFIED " : "DELETED ";
        batch.push_back(t + e.ns + "/" + e.name);
      }
      batches_.push_back(batch);
      cv_.notify_all();
    };
  }
  // Waits (at most 5 s) for `n` batches; returns them.
  std::vector<std::vector<std::string>> WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(5), [&] { return batches_.size() >= n; });
    return batches_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<std::string>> batches_;
};

ResourceRef Pods() { return {"", {"v1"}, "pods"}; }

InformerOptions SmallPages() {
  InformerOptions o;
  o.page_size = 2;
  o.min_backoff = std::chrono::milliseconds(1);
  return o;
}

TEST(InformerTest, ListStartsOverWhenTheContinueTokenExpires) {
  ScriptedClient client;
  client.AddList(200, Page({Pod("a", "5"), Pod("b", "6")}, "10", "tok1"));
  client.AddList(410, kExpired);  // page 2 of the first attempt
  client.AddList(200, Page({Pod("a", "5"), Pod("b", "6")}, "12", "tok2"));
  client.AddList(200, Page({Pod("c", "11")}, "12", ""));
  Recorder rec;
  Informer informer(&client, Pods(), rec.Handler(), SmallPages());
  informer.Start();
  auto batches = rec.WaitFor(1);
  informer.Stop();
  ASSERT_EQ(batches.size(), 1u);
  // All three, from one consistent list (before the fix: an empty list, the pages so far
  // cleared and the loop ended by the cleared token).
  EXPECT_THAT(batches[0], ElementsAre("ADDED ns/a", "ADDED ns/b", "ADDED ns/c"));
  EXPECT_EQ(informer.stats().lists, 1u);
  auto paths = client.paths();
  ASSERT_GE(paths.size(), 5u);
  EXPECT_THAT(paths[1], ::testing::HasSubstr("continue=tok1"));
  EXPECT_THAT(paths[2], ::testing::Not(::testing::HasSubstr("continue=")));
  EXPECT_THAT(paths[4], ::testing::HasSubstr("watch=true"));
  EXPECT_THAT(paths[4], ::testing::HasSubstr("resourceVersion=12"));
}

TEST(InformerTest, RelistWithAnExpiredContinueTokenDeletesNothing) {
  ScriptedClient client;
  client.AddList(200, Page({Pod("a", "5"), Pod("b", "6")}, "10", "tok1"));
  client.AddList(200, Page({Pod("c", "7")}, "10", ""));
  // The watch says 410: relist. Its second page expires; the list starts over.
  client.AddWatch({R"({"type":"ERROR","object":{"kind":"Status","code":410,"message":"too old resource version"}})"});
  client.AddList(200, Page({Pod("a", "5"), Pod("b", "6")}, "20", "tok2"));
  client.AddList(410, kExpired);
  client.AddList(200, Page({Pod("a", "5"), Pod("b", "16")}, "21", "tok3"));
  client.AddList(200, Page({Pod("c", "7")}, "21", ""));
  Recorder rec;
  Informer informer(&client, Pods(), rec.Handler(), SmallPages());
  informer.Start();
  auto batches = rec.WaitFor(2);
  informer.Stop();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_THAT(batches[0], ElementsAre("ADDED ns/a", "ADDED ns/b", "ADDED ns/c"));
  // Only b changed (before the fix: a, b and c DELETED, from an empty relist).
  EXPECT_THAT(batches[1], ElementsAre("MODIFIED ns/b"));
  EXPECT_EQ(informer.stats().gone, 1u);
}

TEST(InformerTest, WatchDropsEventsAlreadyDelivered) {
  ScriptedClient client;
  client.AddList(200, Page({Pod("a", "5")}, "10", ""));
  client.AddWatch({
      R"({"type":"ADDED","object":)" + Pod("a", "5") + "}",     // already listed: dropped
      R"({"type":"MODIFIED","object":)" + Pod("a", "11") + "}",
      R"({"type":"MODIFIED","object":)" + Pod("a", "11") + "}",  // same rv again: dropped
      R"({"type":"DELETED","object":)" + Pod("a", "12") + "}",
      R"({"type":"DELETED","object":)" + Pod("a", "12") + "}",   // already gone: dropped
  });
  Recorder rec;
  Informer informer(&client, Pods(), rec.Handler(), SmallPages());
  informer.Start();
  auto batches = rec.WaitFor(3);
  informer.Stop();
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_THAT(batches[1], ElementsAre("MODIFIED ns/a"));
  EXPECT_THAT(batches[2], ElementsAre("DELETED ns/a"));
  EXPECT_EQ(informer.stats().duplicates, 3u);
}

// `levels` objects nested in one another: {"a":{"a":...{}}}.
std::string Nested(int levels) {
  std::string out;
  for (int i = 0; i < levels - 1; ++i) out += R"({"a":)";
  out += "{}";
  out += std::string(levels - 1, '}');
  return out;
}

// A Pod with `field` (e.g. "status") holding `value`.
std::string PodWith(const std::string& name, const std::string& rv, const std::string& field, const std::string& value) {
  return R"({"metadata":{"namespace":"ns","name":")" + name + R"(","resourceVersion":")" + rv + R"("},")" + field +
         R"(":)" + value + "}";
}

// Records what the informer skipped.
class SkipRecorder {
 public:
  Informer::SkipHandler Handler() {
    return [this](const SkippedObject& o) {
      std::lock_guard<std::mutex> lock(mu_);
      skipped_.push_back(o.ns + "/" + o.name + "@" + o.resource_version + ": " + o.reason);
    };
  }
  std::vector<std::string> skipped() const {
    std::lock_guard<std::mutex> lock(mu_);
    return skipped_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> skipped_;
};

// Before: one item protobuf's JSON parser refused (depth > 100) failed the
// whole list, retried forever: the informer never synced.
TEST(InformerTest, AnItemThatDoesNotDecodeIsSkippedAndTheListSucceeds) {
  ScriptedClient client;
  client.AddList(200, Page({Pod("a", "5"), PodWith("deep", "6", "spec", Nested(150)), Pod("c", "7")}, "10", ""));
  Recorder rec;
  SkipRecorder skips;
  Informer informer(&client, Pods(), rec.Handler(), SmallPages(), skips.Handler());
  informer.Start();
  auto batches = rec.WaitFor(1);
  informer.Stop();
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_THAT(batches[0], ElementsAre("ADDED ns/a", "ADDED ns/c"));
  EXPECT_TRUE(informer.HasSynced());
  EXPECT_THAT(skips.skipped(), ElementsAre("ns/deep@6: nested 151 levels deep, more than the limit of 32"));
  EXPECT_EQ(informer.stats().skipped, 1u);
  EXPECT_EQ(informer.stats().lists, 1u);
}

// Before: a VirtualService whose status nested 110 levels failed the list.
TEST(InformerTest, StatusIsDroppedUnreadUnlessKept) {
  ScriptedClient client;
  client.AddList(200, Page({PodWith("a", "5", "status", Nested(110))}, "10", ""));
  std::vector<InformerEvent> got;
  std::mutex mu;
  std::condition_variable cv;
  auto handler = [&](std::vector<InformerEvent> events) {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& e : events) got.push_back(std::move(e));
    cv.notify_all();
  };
  Informer informer(&client, Pods(), handler, SmallPages());
  informer.Start();
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::seconds(5), [&] { return !got.empty(); });
  }
  informer.Stop();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].name, "a");
  EXPECT_EQ(got[0].object.fields().count("status"), 0u);
  EXPECT_EQ(got[0].object.fields().count("metadata"), 1u);

  // A kind whose status is read keeps it (and then its depth counts).
  ScriptedClient client2;
  client2.AddList(200, Page({PodWith("p", "5", "status", R"({"podIP":"10.0.0.1"})"),
                             PodWith("q", "6", "status", Nested(110))}, "10", ""));
  got.clear();
  ResourceRef ref = Pods();
  ref.keep_status = true;
  SkipRecorder skips;
  Informer keeping(&client2, ref, handler, SmallPages(), skips.Handler());
  keeping.Start();
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::seconds(5), [&] { return !got.empty(); });
  }
  keeping.Stop();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].object.fields().at("status").struct_value().fields().at("podIP").string_value(), "10.0.0.1");
  EXPECT_THAT(skips.skipped(), ElementsAre(::testing::HasSubstr("ns/q@6: nested 111 levels deep")));
}

TEST(InformerTest, AnItemLargerThanTheLimitIsSkipped) {
  ScriptedClient client;
  client.AddList(200, Page({Pod("a", "5"), PodWith("big", "6", "spec", "\"" + std::string(5000, 'x') + "\"")}, "10", ""));
  Recorder rec;
  SkipRecorder skips;
  InformerOptions options = SmallPages();
  options.max_object_bytes = 4096;
  Informer informer(&client, Pods(), rec.Handler(), options, skips.Handler());
  informer.Start();
  auto batches = rec.WaitFor(1);
  informer.Stop();
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_THAT(batches[0], ElementsAre("ADDED ns/a"));
  EXPECT_THAT(skips.skipped(), ElementsAre(::testing::HasSubstr("ns/big@6: 5076 bytes of JSON (status and managedFields excluded), "
                                                                "more than the limit of 4096")));
}

// Before: the event failed the watch, which resumed from the resourceVersion
// before it and got the same event again, forever; nothing after it arrived.
TEST(InformerTest, AWatchEventThatDoesNotDecodeIsSkippedAndTheWatchMovesOn) {
  ScriptedClient client;
  client.AddList(200, Page({Pod("a", "5")}, "10", ""));
  client.AddWatch({
      R"({"type":"ADDED","object":)" + PodWith("deep", "11", "spec", Nested(120)) + "}",
      R"({"type":"MODIFIED","object":)" + PodWith("a", "12", "spec", Nested(120)) + "}",  // a keeps rv 5's version
      R"({"type":"ADDED","object":)" + Pod("b", "13") + "}",
      R"({"type":"MODIFIED","object":)" + Pod("a", "14") + "}",  // decodes again: delivered
      R"({"type":"DELETED","object":)" + PodWith("deep", "15", "spec", Nested(120)) + "}",  // a delete always is
  });
  Recorder rec;
  SkipRecorder skips;
  Informer informer(&client, Pods(), rec.Handler(), SmallPages(), skips.Handler());
  informer.Start();
  auto batches = rec.WaitFor(4);
  informer.Stop();
  ASSERT_EQ(batches.size(), 4u);
  EXPECT_THAT(batches[0], ElementsAre("ADDED ns/a"));
  EXPECT_THAT(batches[1], ElementsAre("ADDED ns/b"));
  EXPECT_THAT(batches[2], ElementsAre("MODIFIED ns/a"));
  EXPECT_THAT(batches[3], ElementsAre("DELETED ns/deep"));
  EXPECT_THAT(skips.skipped(), ElementsAre(::testing::StartsWith("ns/deep@11: nested"), ::testing::StartsWith("ns/a@12: nested")));
  EXPECT_EQ(informer.stats().watches, 1u) << "the watch was reopened";
}

// A relist that still holds the object that does not decode: not reported
// again at the same resourceVersion, not deleted (the handler keeps its last
// good version), reported again once it changes.
TEST(InformerTest, RelistKeepsASkippedObjectWithoutDeletingIt) {
  ScriptedClient client;
  client.AddList(200, Page({Pod("a", "5")}, "10", ""));
  client.AddWatch({R"({"type":"MODIFIED","object":)" + PodWith("a", "11", "spec", Nested(120)) + "}",
                   R"({"type":"ERROR","object":{"kind":"Status","status":"Failure","code":410,"message":"too old"}})"});
  client.AddList(200, Page({PodWith("a", "11", "spec", Nested(120)), Pod("b", "12")}, "20", ""));
  client.AddWatch({R"({"type":"ERROR","object":{"kind":"Status","code":410,"message":"too old"}})"});
  client.AddList(200, Page({PodWith("a", "21", "spec", Nested(120)), Pod("b", "12")}, "30", ""));
  Recorder rec;
  SkipRecorder skips;
  Informer informer(&client, Pods(), rec.Handler(), SmallPages(), skips.Handler());
  informer.Start();
  auto batches = rec.WaitFor(3);
  informer.Stop();
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_THAT(batches[0], ElementsAre("ADDED ns/a"));
  EXPECT_THAT(batches[1], ElementsAre("ADDED ns/b"));  // no DELETED ns/a
  EXPECT_THAT(batches[2], IsEmpty());
  EXPECT_THAT(skips.skipped(), ElementsAre(::testing::StartsWith("ns/a@11:"), ::testing::StartsWith("ns/a@21:")));
  EXPECT_EQ(informer.stats().gone, 2u);
}

TEST(CredentialProviderTest, InvalidateDropsOnlyTheCredentialThatFailed) {
  char dir_template[] = "/tmp/keel-cred-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string plugin = dir + "/plugin";
  {
    std::ofstream f(plugin);
    f << "#!/bin/sh\necho run >>\"" << dir << "/runs\"\nn=$(wc -l <\"" << dir << "/runs\")\n"
      << "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
         "\"status\":{\"token\":\"token-%s\"}}' $n\n";
  }
  std::filesystem::permissions(plugin, std::filesystem::perms::owner_all);
  ClusterConfig config;
  config.server = "https://127.0.0.1:1";
  config.exec = ExecConfig{"client.authentication.k8s.io/v1", plugin, {}, {}, false};
  CredentialProvider creds(config);

  auto first = creds.Get();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->bearer_token, "token-1");
  // Two requests carried token-1 and both got 401.
  creds.Invalidate(*first);
  auto second = creds.Get();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->bearer_token, "token-2");
  creds.Invalidate(*first);  // the second 401, for the credential already replaced
  auto third = creds.Get();
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->bearer_token, "token-2");
  EXPECT_EQ(creds.exec_runs(), 2) << first->bearer_token << " " << second->bearer_token << " " << third->bearer_token;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace keel::kube
