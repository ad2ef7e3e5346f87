// BoundedHttpServer: the HttpServer behind CreateHttpServer().
//
// Threads: one I/O thread owns the listening socket and every connection
// (accept, read, parse, write, timeouts: nothing else touches them); handlers
// run on a BoundedExecutor; replies come back through a ReplyQueue and an
// eventfd. A connection has at most one request in a handler and is not read
// while it waits, so its buffered input never exceeds max_header_bytes plus one
// read (16 KiB).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "pkg/concurrency/bounded_executor.h"
#include "pkg/http/http_server.h"
#include "pkg/http/reply_queue.h"
#include "pkg/http/request_parser.h"

namespace keel::http::internal {

class BoundedHttpServer final : public HttpServer {
 public:
  BoundedHttpServer(std::string host, int port, HttpServerOptions options);
  ~BoundedHttpServer() override;  // Stop()

  void HandleAsync(const std::string& path, AsyncHttpHandler handler) override;
  absl::Status Start() override;
  int port() const override { return bound_port_.load(); }
  void Stop() override;

 private:
  using Clock = std::chrono::steady_clock;

  enum class State {
    kReadingHead,  // waiting for (the rest of) a request head
    kReadingBody,  // discarding a Content-Length body
    kHandling,     // in a handler; not polled
    kWriting,      // flushing `out`
    kLingering,    // response sent and write side shut; discarding input until EOF (so no RST eats the response)
  };

  struct Connection {
    int fd = -1;
    std::string peer;
    State state = State::kReadingHead;
    Clock::time_point deadline;
    bool request_started = false;     // a byte of the current request has arrived
    bool restart_deadline = false;    // kept alive: the request deadline starts at its first byte
    std::string in;                   // unparsed input (head, or pipelined bytes)
    size_t body_left = 0;
    std::optional<RequestHead> head;  // while reading the body (reset before the handler runs)
    uint64_t request_id = 0;          // of the request in the handler
    bool keep_alive = true;
    bool head_method = false;         // HEAD: the response has no body
    std::string out;
    size_t out_sent = 0;
    bool close_after_write = false;
    size_t lingered = 0;
    bool input_ready = false;         // kept alive with buffered (pipelined) input to parse
  };

  // I/O thread only.
  void Loop();
  void AcceptSome(Clock::time_point now);
  void OnReadable(Connection& c, Clock::time_point now);
  void ProcessInput(Connection& c, Clock::time_point now);
  void Dispatch(Connection& c, Clock::time_point now);
  void Fail(Connection& c, int status, const std::string& reason, Clock::time_point now);
  void StartResponse(Connection& c, const HttpResponse& response, Clock::time_point now);
  void Flush(Connection& c, Clock::time_point now);
  void OnDeadline(Connection& c, Clock::time_point now);
  void DeliverReplies(Clock::time_point now);
  void CloseConnection(Connection& c);

  const std::string host_;
  const int requested_port_;
  const HttpServerOptions options_;
  std::map<std::string, AsyncHttpHandler> handlers_;  // written before Start(), then read-only
  std::atomic<int> bound_port_{0};

  std::mutex stop_mu_;  // serializes Start() and Stop()
  bool started_ = false;
  bool stopped_ = false;
  std::atomic<bool> stopping_{false};         // stop accepting and reading
  std::atomic<bool> replies_closed_{false};   // no reply will come any more
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  std::shared_ptr<ReplyQueue> replies_;
  std::unique_ptr<concurrency::BoundedExecutor> executor_;
  std::thread io_thread_;

  // I/O thread only.
  std::map<uint64_t, Connection> connections_;
  uint64_t next_connection_id_ = 1;
  uint64_t next_request_id_ = 1;
  Clock::time_point accept_paused_until_{};
  Clock::time_point last_accept_warning_{};
};

}  // namespace keel::http::internal
