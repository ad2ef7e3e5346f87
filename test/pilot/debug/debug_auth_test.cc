#include "pilot/debug/debug_auth.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

namespace keel::pilot::debug {
namespace {

using namespace std::chrono_literals;

// Collects the one reply of a request, from whichever thread sends it.
struct Reply {
  std::promise<http::HttpResponse> promise;
  std::future<http::HttpResponse> future = promise.get_future();
  std::atomic<int> calls{0};
  std::thread::id thread;
  http::HttpReply fn() {
    return [this](http::HttpResponse r) {
      thread = std::this_thread::get_id();
      if (calls++ == 0) promise.set_value(std::move(r));
    };
  }
  http::HttpResponse Get() {
    EXPECT_EQ(future.wait_for(5s), std::future_status::ready) << "no reply";
    return future.get();
  }
  bool Ready() { return future.wait_for(0s) == std::future_status::ready; }
};

http::HttpRequest Request(const std::string& remote, std::optional<std::string> authorization = std::nullopt) {
  http::HttpRequest r;
  r.method = "GET";
  r.path = "/debug/syncz";
  r.remote_address = remote;
  if (authorization) r.headers["Authorization"] = *authorization;
  return r;
}

const DebugCaller kIstiod{"istio-system", "istiod"};

http::HttpHandler Ok() {
  return [](const http::HttpRequest&) { return http::HttpResponse{200, "application/json", "[]"}; };
}

// A reviewer that blocks until released, counting calls.
struct BlockingReviewer {
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  int calls = 0;
  TokenReviewer fn() {
    return [this](const std::multimap<std::string, std::string>&) {
      std::unique_lock<std::mutex> lock(mu);
      ++calls;
      cv.notify_all();
      cv.wait(lock, [this] { return released; });
      return kIstiod;
    };
  }
  void WaitForCalls(int n) {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return calls >= n; }));
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu);
    released = true;
    cv.notify_all();
  }
};

TEST(IsLoopbackAddressTest, MatchesGoIsLoopback) {
  for (const char* a : {"127.0.0.1", "127.255.0.9", "::1", "[::1]", "::ffff:127.0.0.1", "0:0:0:0:0:0:0:1"}) {
    EXPECT_TRUE(http::IsLoopbackAddress(a)) << a;
  }
  for (const char* a : {"10.0.0.1", "128.0.0.1", "192.0.2.2", "::2", "fd00::1", "::ffff:10.0.0.1", "", "localhost",
                        "garbage"}) {
    EXPECT_FALSE(http::IsLoopbackAddress(a)) << a;
  }
}

TEST(DebugAuthTest, LocalRequestsNeedNothingAndNeverReachTheReviewer) {
  std::atomic<int> reviews{0};
  DebugAuth auth([&](const auto&) -> absl::StatusOr<DebugCaller> {
    ++reviews;
    return absl::UnauthenticatedError("no");
  });
  auto handler = auth.Wrap(Ok());
  for (const char* local : {"127.0.0.1", "::1", "::ffff:127.0.0.1"}) {
    Reply reply;
    handler(Request(local), reply.fn());
    ASSERT_TRUE(reply.Ready()) << "a local request is answered on the calling thread";
    EXPECT_EQ(reply.Get().status, 200) << local;
  }
  EXPECT_EQ(reviews.load(), 0);
}

TEST(DebugAuthTest, WithoutAReviewerEveryRemoteRequestIs401WithAnEmptyBody) {
  DebugAuth auth(nullptr);
  auto handler = auth.Wrap(Ok());
  for (auto authorization : {std::optional<std::string>(), std::optional<std::string>("Bearer x")}) {
    Reply reply;
    handler(Request("10.1.2.3", authorization), reply.fn());
    http::HttpResponse r = reply.Get();
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.body, "");  // istiod writes no body either
  }
}

TEST(DebugAuthTest, NoAuthorizationHeaderIs401WithoutAReview) {
  std::atomic<int> reviews{0};
  DebugAuth auth([&](const auto&) -> absl::StatusOr<DebugCaller> {
    ++reviews;
    return kIstiod;
  });
  Reply reply;
  auth.Wrap(Ok())(Request("10.1.2.3"), reply.fn());
  ASSERT_TRUE(reply.Ready());
  EXPECT_EQ(reply.Get().status, 401);
  EXPECT_EQ(reviews.load(), 0);
}

TEST(DebugAuthTest, AcceptedTokenIsServedFromAWorkerThreadNotTheCaller) {
  std::multimap<std::string, std::string> seen;
  DebugAuth auth([&](const std::multimap<std::string, std::string>& headers) -> absl::StatusOr<DebugCaller> {
    seen = headers;
    return kIstiod;
  });
  Reply reply;
  auth.Wrap(Ok())(Request("10.1.2.3", "Bearer good"), reply.fn());
  http::HttpResponse r = reply.Get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "[]");
  EXPECT_NE(reply.thread, std::this_thread::get_id());
  ASSERT_EQ(seen.count("authorization"), 1u) << "header names reach the reviewer in lower case";
  EXPECT_EQ(seen.find("authorization")->second, "Bearer good");
}

TEST(DebugAuthTest, RejectedTokenIs401) {
  DebugAuth auth([](const auto&) -> absl::StatusOr<DebugCaller> {
    return absl::UnauthenticatedError("token rejected: expired");
  });
  Reply reply;
  auth.Wrap(Ok())(Request("10.1.2.3", "Bearer old"), reply.fn());
  EXPECT_EQ(reply.Get().status, 401);
}

// istiod serves remote debug requests to its own namespace's identities only
// (Keel: --system-namespace); a valid token of any other service account is 403,
// with the reason in the body, and the handler never runs.
TEST(DebugAuthTest, AnotherNamespacesIdentityIs403WithTheReasonAndIsNotServed) {
  std::atomic<int> served{0};
  auto counting = [&](const http::HttpRequest&) {
    ++served;
    return http::HttpResponse{200, "text/plain", "Pushed to 0 servers\n"};
  };
  DebugAuth auth([](const auto&) -> absl::StatusOr<DebugCaller> { return DebugCaller{"other", "nobody"}; });
  auto handler = auth.Wrap(counting);
  for (const char* path : {"/debug/configz", "/debug/adsz"}) {
    http::HttpRequest request = Request("10.1.2.3", "Bearer valid-but-not-istiod");
    request.path = path;
    if (std::string(path) == "/debug/adsz") request.query["push"] = "true";
    Reply reply;
    handler(request, reply.fn());
    http::HttpResponse r = reply.Get();
    EXPECT_EQ(r.status, 403) << path;
    EXPECT_EQ(r.body, "debug endpoints are for identities of namespace istio-system; the token is of other/nobody\n");
  }
  EXPECT_EQ(served.load(), 0) << "neither the read nor the push ran";
  // The same handler from localhost: served, push included (istiod allows localhost everything).
  http::HttpRequest local = Request("127.0.0.1");
  local.path = "/debug/adsz";
  local.query["push"] = "true";
  Reply reply;
  handler(local, reply.fn());
  EXPECT_EQ(reply.Get().status, 200);
  EXPECT_EQ(served.load(), 1);
}

TEST(DebugAuthTest, TheSystemNamespaceIsTheConfiguredOne) {
  DebugAuthOptions options;
  options.system_namespace = "keel-system";
  std::string caller_ns;
  DebugAuth auth([&](const auto&) -> absl::StatusOr<DebugCaller> { return DebugCaller{caller_ns, "keel"}; },
                 options);
  auto handler = auth.Wrap(Ok());
  for (const auto& [ns, want] : std::vector<std::pair<std::string, int>>{
           {"keel-system", 200}, {"istio-system", 403}, {"", 403}, {"keel-system-2", 403}, {"keel", 403}}) {
    caller_ns = ns;
    Reply reply;
    handler(Request("10.1.2.3", "Bearer t"), reply.fn());
    EXPECT_EQ(reply.Get().status, want) << "caller namespace \"" << ns << "\"";
  }
}

// The property that makes a TokenReview safe inside an HTTP handler: the caller
// (a monitoring-server pool thread) returns at once while the review blocks elsewhere, and
// the queue in front of the reviews is bounded.
TEST(DebugAuthTest, ReviewsNeverBlockTheCallerAndTheQueueIsBounded) {
  BlockingReviewer reviewer;
  DebugAuthOptions options;
  options.workers = 1;
  options.max_queued = 1;
  DebugAuth auth(reviewer.fn(), options);
  auto handler = auth.Wrap(Ok());
  Reply first, second, third;
  handler(Request("10.1.2.3", "Bearer a"), first.fn());
  reviewer.WaitForCalls(1);  // the worker is busy with the first
  handler(Request("10.1.2.3", "Bearer b"), second.fn());  // waits in the queue
  handler(Request("10.1.2.3", "Bearer c"), third.fn());   // queue full
  ASSERT_TRUE(third.Ready()) << "a refused request is answered at once";
  EXPECT_EQ(third.Get().status, 503);
  EXPECT_FALSE(first.Ready());
  EXPECT_FALSE(second.Ready());
  reviewer.Release();
  EXPECT_EQ(first.Get().status, 200);
  EXPECT_EQ(second.Get().status, 200);
  EXPECT_EQ(first.calls.load() + second.calls.load() + third.calls.load(), 3) << "exactly one reply each";
}

TEST(DebugAuthTest, ShutdownAnswersQueuedRequests) {
  BlockingReviewer reviewer;
  DebugAuthOptions options;
  options.workers = 1;
  options.max_queued = 4;
  auto auth = std::make_unique<DebugAuth>(reviewer.fn(), options);
  auto handler = auth->Wrap(Ok());
  Reply running, queued;
  handler(Request("10.1.2.3", "Bearer a"), running.fn());
  reviewer.WaitForCalls(1);
  handler(Request("10.1.2.3", "Bearer b"), queued.fn());
  std::thread releaser([&] {
    std::this_thread::sleep_for(50ms);
    reviewer.Release();
  });
  auth->Shutdown();  // drops the queued one with 503, waits for the running review
  releaser.join();
  EXPECT_EQ(queued.Get().status, 503);
  EXPECT_EQ(running.Get().status, 200);
  Reply late;
  handler(Request("10.1.2.3", "Bearer c"), late.fn());
  EXPECT_EQ(late.Get().status, 503);
}

}  // namespace
}  // namespace keel::pilot::debug
