#include "pkg/http/reply_queue.h"

#include <unistd.h>

namespace keel::http::internal {

void WakeEventFd(int fd) {
  uint64_t one = 1;
  // A full counter (EAGAIN) means the I/O thread is already due to wake.
  ssize_t ignored = write(fd, &one, sizeof(one));
  (void)ignored;
}

void ReplyQueue::Post(uint64_t request_id, HttpResponse response) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  ready_.emplace_back(request_id, std::move(response));
  WakeEventFd(wake_fd_);
}

std::vector<std::pair<uint64_t, HttpResponse>> ReplyQueue::Take() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(ready_, {});
}

void ReplyQueue::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
}

ReplyOnce::~ReplyOnce() {
  if (!sent_.exchange(true)) queue_->Post(request_id_, {500, "text/plain", "the handler did not reply\n"});
}

void ReplyOnce::Send(HttpResponse response) {
  if (!sent_.exchange(true)) queue_->Post(request_id_, std::move(response));
}

}  // namespace keel::http::internal
