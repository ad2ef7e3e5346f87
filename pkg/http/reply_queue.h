// How a handler's reply, made on any thread, reaches the server's I/O thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "pkg/http/http_server.h"

namespace keel::http::internal {

// Replies waiting for the I/O thread, keyed by request id. Shared (shared_ptr)
// by the server and every outstanding reply, so a reply may outlive the server.
// Thread-safe.
class ReplyQueue {
 public:
  // `wake_fd` is an eventfd the I/O thread polls; the server closes it only
  // after Close().
  explicit ReplyQueue(int wake_fd) : wake_fd_(wake_fd) {}

  // Queues `response` and wakes the I/O thread; dropped after Close().
  void Post(uint64_t request_id, HttpResponse response);

  // Everything posted since the last call.
  std::vector<std::pair<uint64_t, HttpResponse>> Take();

  // Later Post()s are dropped and no longer touch the eventfd.
  void Close();

 private:
  std::mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::pair<uint64_t, HttpResponse>> ready_ ABSL_GUARDED_BY(mu_);
  const int wake_fd_;
};

// One request's reply: the first Send() is posted, later ones are ignored; if
// it is destroyed unsent (every copy of the HttpReply is gone) it posts a 500.
class ReplyOnce {
 public:
  ReplyOnce(std::shared_ptr<ReplyQueue> queue, uint64_t request_id)
      : queue_(std::move(queue)), request_id_(request_id) {}
  ~ReplyOnce();
  ReplyOnce(const ReplyOnce&) = delete;
  ReplyOnce& operator=(const ReplyOnce&) = delete;

  void Send(HttpResponse response);

 private:
  const std::shared_ptr<ReplyQueue> queue_;
  const uint64_t request_id_;
  std::atomic<bool> sent_{false};
};

// Writes to an eventfd so that poll() returns.
void WakeEventFd(int fd);

}  // namespace keel::http::internal
