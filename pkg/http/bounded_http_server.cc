#include "pkg/http/bounded_http_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace keel::http::internal {
namespace {

constexpr size_t kReadChunk = 16 * 1024;
// After a response that closes the connection, input is discarded for at most
// this long / this many bytes before close (a close with unread input sends an
// RST, which can destroy the response before the client reads it).
constexpr std::chrono::milliseconds kLingerTime{1000};
constexpr size_t kLingerBytes = 1024 * 1024;
// Stop(): how long responses already made may take to be written.
constexpr std::chrono::milliseconds kStopDrainTime{1000};
// accept() failing for want of file descriptors: retried after this.
constexpr std::chrono::milliseconds kAcceptPause{100};
constexpr char kOverCapacity[] =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n"
    "Connection: close\r\n\r\ntoo many connections\n";

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string PeerAddress(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, text, sizeof(text));
  } else if (addr.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr, text, sizeof(text));
  }
  return text;
}

int PollTimeoutMs(std::chrono::steady_clock::time_point now, std::chrono::steady_clock::time_point next) {
  if (next == std::chrono::steady_clock::time_point::max()) return -1;
  if (next <= now) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
  return static_cast<int>(std::min<int64_t>(ms, 60'000));
}

}  // namespace

BoundedHttpServer::BoundedHttpServer(std::string host, int port, HttpServerOptions options)
    : host_(std::move(host)), requested_port_(port), options_(options) {}

BoundedHttpServer::~BoundedHttpServer() { Stop(); }

void BoundedHttpServer::HandleAsync(const std::string& path, AsyncHttpHandler handler) {
  handlers_[path] = std::move(handler);
}

absl::Status BoundedHttpServer::Start() {
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (started_) return absl::FailedPreconditionError("HTTP server already started");
  const std::string where = absl::StrCat(host_, ":", requested_port_);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port_text = std::to_string(requested_port_);
  if (int rc = getaddrinfo(host_.empty() ? nullptr : host_.c_str(), port_text.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for HTTP on ", where, ": ", gai_strerror(rc)));
  }
  int fd = socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  std::string error;
  if (fd < 0) {
    error = strerror(errno);
  } else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
             bind(fd, found->ai_addr, found->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
    error = strerror(errno);
    close(fd);
  }
  freeaddrinfo(found);
  if (!error.empty()) return absl::UnavailableError(absl::StrCat("cannot listen for HTTP on ", where, ": ", error));

  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  bound_port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(bound).sin6_port
                                                  : reinterpret_cast<sockaddr_in&>(bound).sin_port);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("eventfd: ", strerror(errno)));
  }
  listen_fd_ = fd;
  replies_ = std::make_shared<ReplyQueue>(wake_fd_);
  executor_ = std::make_unique<concurrency::BoundedExecutor>(options_.handler_threads,
                                                             static_cast<size_t>(options_.max_connections));
  started_ = true;
  io_thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void BoundedHttpServer::Stop() {
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (!started_ || stopped_) return;
  stopped_ = true;
  stopping_ = true;
  WakeEventFd(wake_fd_);
  executor_->Shutdown();  // running handlers finish (and reply); queued ones are answered 503
  replies_->Close();
  replies_closed_ = true;
  WakeEventFd(wake_fd_);
  io_thread_.join();
  close(wake_fd_);
  wake_fd_ = -1;
}

void BoundedHttpServer::Loop() {
  std::vector<pollfd> fds;
  std::vector<uint64_t> ids;  // ids[i] is the connection of fds[i + first_connection]
  auto drain_deadline = Clock::time_point::max();
  while (true) {
    auto now = Clock::now();
    if (stopping_ && listen_fd_ >= 0) {
      close(listen_fd_);
      listen_fd_ = -1;
      for (auto& [id, c] : connections_) {
        if (c.state != State::kHandling && c.state != State::kWriting) CloseConnection(c);
      }
    }
    if (replies_closed_) {
      if (drain_deadline == Clock::time_point::max()) {
        DeliverReplies(now);  // the last replies posted before Close()
        drain_deadline = now + kStopDrainTime;
        for (auto& [id, c] : connections_) {
          if (c.state != State::kWriting) CloseConnection(c);
        }
      }
      for (auto& [id, c] : connections_) {
        if (c.fd >= 0 && (c.state != State::kWriting || now >= drain_deadline)) CloseConnection(c);
      }
    }
    for (auto& [id, c] : connections_) {
      if (c.fd >= 0 && c.input_ready && !stopping_) {
        c.input_ready = false;
        ProcessInput(c, now);
      }
    }
    for (auto it = connections_.begin(); it != connections_.end();) {
      it = it->second.fd < 0 ? connections_.erase(it) : std::next(it);
    }
    if (replies_closed_ && connections_.empty()) break;

    fds.clear();
    ids.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    const bool accepting = listen_fd_ >= 0 && now >= accept_paused_until_;
    if (accepting) fds.push_back({listen_fd_, POLLIN, 0});
    const size_t first_connection = fds.size();
    auto next = drain_deadline;
    if (listen_fd_ >= 0 && !accepting) next = std::min(next, accept_paused_until_);
    for (auto& [id, c] : connections_) {
      if (c.input_ready && !stopping_) next = now;
      if (c.state == State::kHandling) continue;
      fds.push_back({c.fd, static_cast<short>(c.state == State::kWriting ? POLLOUT : POLLIN), 0});
      ids.push_back(id);
      next = std::min(next, c.deadline);
    }
    if (poll(fds.data(), fds.size(), PollTimeoutMs(now, next)) < 0 && errno != EINTR) {
      spdlog::error("HTTP server poll: {}", strerror(errno));
    }
    now = Clock::now();
    if (fds[0].revents & POLLIN) {
      uint64_t count;
      ssize_t ignored = read(wake_fd_, &count, sizeof(count));
      (void)ignored;
      DeliverReplies(now);
    }
    if (accepting && (fds[1].revents & POLLIN) && !stopping_) AcceptSome(now);
    for (size_t i = 0; i < ids.size(); ++i) {
      auto it = connections_.find(ids[i]);
      if (it == connections_.end() || it->second.fd < 0) continue;
      Connection& c = it->second;
      const short revents = fds[first_connection + i].revents;
      if (revents & (POLLIN | POLLHUP | POLLERR)) {
        if (c.state == State::kWriting) {
          Flush(c, now);  // sees the error
        } else {
          OnReadable(c, now);
        }
      } else if (revents & POLLOUT) {
        Flush(c, now);
      }
      if (c.fd >= 0 && c.state != State::kHandling && now >= c.deadline) OnDeadline(c, now);
    }
  }
  for (auto& [id, c] : connections_) CloseConnection(c);
  connections_.clear();
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = -1;
}

void BoundedHttpServer::AcceptSome(Clock::time_point now) {
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      // Out of file descriptors or memory: the listener stays readable, so stop
      // polling it for a moment instead of spinning.
      accept_paused_until_ = now + kAcceptPause;
      if (now - last_accept_warning_ > std::chrono::seconds(10)) {
        last_accept_warning_ = now;
        spdlog::warn("HTTP server cannot accept connections: {}", strerror(errno));
      }
      return;
    }
    if (connections_.size() >= static_cast<size_t>(options_.max_connections)) {
      ssize_t ignored = send(fd, kOverCapacity, sizeof(kOverCapacity) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
      (void)ignored;
      close(fd);
      spdlog::debug("HTTP connection from {} refused: {} connections open", PeerAddress(addr),
                    connections_.size());
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    Connection& c = connections_[next_connection_id_++];
    c.fd = fd;
    c.peer = PeerAddress(addr);
    c.deadline = now + options_.request_timeout;
  }
}

void BoundedHttpServer::OnReadable(Connection& c, Clock::time_point now) {
  char buf[kReadChunk];
  ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0) {  // EOF or reset: the client is gone (a half-closed client gets no response)
    CloseConnection(c);
    return;
  }
  absl::string_view data(buf, static_cast<size_t>(n));
  if (c.state == State::kLingering) {
    c.lingered += data.size();
    if (c.lingered > kLingerBytes) CloseConnection(c);
    return;
  }
  if (c.state == State::kReadingBody) {
    size_t take = std::min(c.body_left, data.size());
    c.body_left -= take;
    data.remove_prefix(take);
  }
  c.in.append(data.data(), data.size());
  ProcessInput(c, now);
}

void BoundedHttpServer::ProcessInput(Connection& c, Clock::time_point now) {
  if (c.state == State::kReadingHead) {
    if (c.in.empty()) return;
    if (!c.request_started) {
      c.request_started = true;
      if (c.restart_deadline) c.deadline = now + options_.request_timeout;
    }
    size_t skipped = 0;
    std::optional<size_t> end = FindHeadEnd(c.in, &skipped);
    if (!end) {
      if (c.in.size() > options_.max_header_bytes) {
        Fail(c, 431, absl::StrCat("request header larger than ", options_.max_header_bytes, " bytes"), now);
      } else if (auto error = CheckPartialHead(c.in)) {
        Fail(c, error->status, error->reason, now);
      }
      return;
    }
    if (skipped + *end > options_.max_header_bytes) {
      Fail(c, 431, absl::StrCat("request header larger than ", options_.max_header_bytes, " bytes"), now);
      return;
    }
    ParseResult parsed = ParseHead(absl::string_view(c.in).substr(skipped, *end));
    c.in.erase(0, skipped + *end);
    if (parsed.error) {
      Fail(c, parsed.error->status, parsed.error->reason, now);
      return;
    }
    if (parsed.head->content_length > options_.max_body_bytes) {
      Fail(c, 413, absl::StrCat("request body larger than ", options_.max_body_bytes, " bytes"), now);
      return;
    }
    c.head = std::move(parsed.head);
    c.body_left = c.head->content_length;
    c.state = State::kReadingBody;
  }
  if (c.state == State::kReadingBody) {
    size_t take = std::min(c.body_left, c.in.size());
    c.in.erase(0, take);
    c.body_left -= take;
    if (c.body_left == 0) Dispatch(c, now);
  }
}

void BoundedHttpServer::Dispatch(Connection& c, Clock::time_point now) {
  HttpRequest request = std::move(c.head->request);
  request.remote_address = c.peer;
  c.keep_alive = c.head->keep_alive;
  c.head_method = request.method == "HEAD";
  c.head.reset();
  c.state = State::kHandling;
  if (request.method != "GET" && request.method != "HEAD") {
    StartResponse(c, {405, "text/plain", "only GET is supported\n"}, now);
    return;
  }
  auto handler = handlers_.find(request.path);
  if (handler == handlers_.end()) {
    StartResponse(c, {404, "text/plain", absl::StrCat("no handler for ", request.path, "\n")}, now);
    return;
  }
  c.request_id = next_request_id_++;
  auto once = std::make_shared<ReplyOnce>(replies_, c.request_id);
  const AsyncHttpHandler* run = &handler->second;
  bool queued = executor_->Submit(
      [run, request = std::move(request), once]() mutable {
        try {
          (*run)(request, [once](HttpResponse response) { once->Send(std::move(response)); });
        } catch (const std::exception& e) {
          once->Send({500, "text/plain", absl::StrCat("internal error: ", e.what(), "\n")});
        } catch (...) {
          once->Send({500, "text/plain", "internal error\n"});
        }
      },
      [once] { once->Send({503, "text/plain", "the server is stopping\n"}); });
  if (!queued) {
    c.request_id = 0;  // whatever `once` posts now is for no one
    StartResponse(c, {503, "text/plain", "the server is stopping or overloaded\n"}, now);
  }
}

void BoundedHttpServer::DeliverReplies(Clock::time_point now) {
  for (auto& [request_id, response] : replies_->Take()) {
    for (auto& [id, c] : connections_) {
      if (c.fd >= 0 && c.state == State::kHandling && c.request_id == request_id) {
        c.request_id = 0;
        StartResponse(c, response, now);
        break;
      }
    }
  }
}

void BoundedHttpServer::Fail(Connection& c, int status, const std::string& reason, Clock::time_point now) {
  spdlog::debug("HTTP request from {} refused with {}: {}", c.peer, status, reason);
  c.keep_alive = false;
  c.head_method = false;
  c.head.reset();
  StartResponse(c, {status, "text/plain", absl::StrCat(reason, "\n")}, now);
}

void BoundedHttpServer::StartResponse(Connection& c, const HttpResponse& response, Clock::time_point now) {
  c.close_after_write = !c.keep_alive || stopping_;
  c.out = absl::StrCat("HTTP/1.1 ", response.status, " ", ReasonPhrase(response.status),
                       "\r\nContent-Type: ", response.content_type, "\r\nContent-Length: ", response.body.size(),
                       c.close_after_write ? "\r\nConnection: close" : "\r\nConnection: keep-alive", "\r\n\r\n");
  if (!c.head_method) c.out += response.body;
  c.out_sent = 0;
  c.state = State::kWriting;
  c.deadline = now + options_.write_timeout;
  Flush(c, now);
}

void BoundedHttpServer::Flush(Connection& c, Clock::time_point now) {
  while (c.out_sent < c.out.size()) {
    ssize_t n = send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // wait for POLLOUT
    if (n <= 0) {
      CloseConnection(c);
      return;
    }
    c.out_sent += static_cast<size_t>(n);
    c.deadline = now + options_.write_timeout;
  }
  c.out.clear();
  c.out.shrink_to_fit();
  if (c.close_after_write) {
    if (stopping_) {
      CloseConnection(c);
      return;
    }
    shutdown(c.fd, SHUT_WR);
    c.state = State::kLingering;
    c.in.clear();
    c.deadline = now + kLingerTime;
    return;
  }
  c.state = State::kReadingHead;
  c.request_started = false;
  c.restart_deadline = true;
  c.deadline = now + options_.idle_timeout;
  c.input_ready = !c.in.empty();  // a pipelined request; Loop() parses it (no recursion here)
}

void BoundedHttpServer::OnDeadline(Connection& c, Clock::time_point now) {
  if ((c.state == State::kReadingHead || c.state == State::kReadingBody) && c.request_started) {
    Fail(c, 408, absl::StrCat("request not received within ", options_.request_timeout.count(), " ms"), now);
    return;
  }
  CloseConnection(c);  // idle, silent, a client that does not read, or done lingering
}

void BoundedHttpServer::CloseConnection(Connection& c) {
  if (c.fd < 0) return;
  close(c.fd);
  c.fd = -1;
  c.in.clear();
  c.out.clear();
}

}  // namespace keel::http::internal
