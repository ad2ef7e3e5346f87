// BoundedHttpServer: the HttpServer behind CreateHttpServer().
//
// Threads: one I/O thread owns the listening socket and every connection
// (accept, TLS handshake, read, parse, write, timeouts: nothing else touches
// them); handlers run on a BoundedExecutor; replies come back through a
// ReplyQueue and an eventfd. A connection has at most one request in a handler
// and is not read while it waits (neither its socket nor what TLS has buffered),
// so its buffered input never exceeds max_header_bytes plus one read (16 KiB),
// plus, for a POST handler, the body (max_body_bytes) and, with TLS, OpenSSL's
// per-connection state and one record.
//
// Bytes move through a Transport (plain or TLS), which never blocks: when TLS
// needs the other direction (a write while reading, a read while writing), the
// connection is polled for that instead (Connection::wait_for).
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
#include "pkg/http/tls_context.h"
#include "pkg/http/transport.h"

namespace keel::http::internal {

class BoundedHttpServer final : public HttpServer {
 public:
  BoundedHttpServer(std::string host, int port, HttpServerOptions options);
  ~BoundedHttpServer() override;  // Stop()

  void HandleAsync(const std::string& path, AsyncHttpHandler handler) override;
  using HttpServer::HandlePost;
  void HandlePost(const std::string& path, AsyncHttpHandler handler) override;
  absl::Status Start() override;
  int port() const override { return bound_port_.load(); }
  void Stop() override;

 private:
  using Clock = std::chrono::steady_clock;

  enum class State {
    kHandshaking,  // TLS: before the handshake is done
    kReadingHead,  // waiting for (the rest of) a request head
    kReadingBody,  // reading a Content-Length body (kept for a POST handler, else discarded)
    kHandling,     // in a handler; not polled
    kWriting,      // flushing `out`
    kLingering,    // response sent and write side shut; discarding input until EOF (so no RST eats the response)
  };

  // The handlers of one path.
  struct Route {
    AsyncHttpHandler get;   // GET and HEAD
    AsyncHttpHandler post;
    const AsyncHttpHandler* For(const std::string& method) const;  // nullptr: 405
    std::string Allow() const;                                      // "GET, HEAD, POST"
  };

  struct Connection {
    int fd = -1;
    std::unique_ptr<Transport> transport;  // over fd; reset (SSL freed) when fd is closed
    short wait_for = 0;                    // poll events the transport's last operation waits for; 0: the state's
    std::string peer;
    State state = State::kReadingHead;
    Clock::time_point deadline;
    bool request_started = false;     // a byte of the current request has arrived
    bool restart_deadline = false;    // kept alive: the request deadline starts at its first byte
    std::string in;                   // unparsed input (head, or pipelined bytes)
    size_t body_left = 0;
    bool keep_body = false;           // the body goes to a POST handler (else it is discarded)
    std::string body;                 // what has arrived of a kept body
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
  std::unique_ptr<Transport> NewTransport(int fd, Clock::time_point now);
  void OnReady(Connection& c, Clock::time_point now);  // poll says the socket is ready (or failed)
  void ContinueHandshake(Connection& c, Clock::time_point now);
  void OnReadable(Connection& c, Clock::time_point now);
  size_t TakeBody(Connection& c, absl::string_view data);
  // Readable although the socket may not be: TLS holds decrypted input, and the
  // connection is in a reading state (never while in a handler).
  static bool ReadableWithoutPoll(const Connection& c);
  // Remembers which socket readiness the transport waits for (none after progress).
  static void NoteWait(Connection& c, Transport::Status status);
  void ProcessInput(Connection& c, Clock::time_point now);
  void Dispatch(Connection& c, Clock::time_point now);
  void Fail(Connection& c, int status, const std::string& reason, Clock::time_point now);
  void StartResponse(Connection& c, const HttpResponse& response, Clock::time_point now,
                     absl::string_view extra_headers = {});
  void Flush(Connection& c, Clock::time_point now);
  void OnDeadline(Connection& c, Clock::time_point now);
  void DeliverReplies(Clock::time_point now);
  void CloseConnection(Connection& c);

  const std::string host_;
  const int requested_port_;
  const HttpServerOptions options_;
  std::map<std::string, Route> routes_;  // written before Start(), then read-only
  // The route for `path`: exact, else the longest registered subtree; nullptr: 404.
  const Route* FindRoute(const std::string& path) const;
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
  std::unique_ptr<ReloadingTlsContext> tls_;  // set by Start() if options_.tls; then I/O thread only
  std::thread io_thread_;

  // I/O thread only.
  std::map<uint64_t, Connection> connections_;
  uint64_t next_connection_id_ = 1;
  uint64_t next_request_id_ = 1;
  Clock::time_point accept_paused_until_{};
  Clock::time_point last_accept_warning_{};
};

}  // namespace keel::http::internal
