#include "pkg/http/bounded_http_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
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
// Plain TCP only (a TLS connection over the cap is closed: a plaintext answer
// would be garbage to it, and a handshake is what the cap saves).
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

// The I/O thread blocks SIGPIPE: OpenSSL writes to the socket with write(),
// which, to a peer that has gone, raises SIGPIPE (the default kills the
// process); blocked, the write fails with EPIPE instead. (Plain sends use
// MSG_NOSIGNAL.)
void BlockSigpipeInThisThread() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
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
  routes_[path].get = std::move(handler);
}

void BoundedHttpServer::HandlePost(const std::string& path, AsyncHttpHandler handler) {
  routes_[path].post = std::move(handler);
}

const BoundedHttpServer::Route* BoundedHttpServer::FindRoute(const std::string& path) const {
  if (auto exact = routes_.find(path); exact != routes_.end()) return &exact->second;
  // The longest registered subtree ("/inject/") the path is under, as Go's ServeMux.
  const Route* best = nullptr;
  size_t best_length = 0;
  for (const auto& [pattern, route] : routes_) {
    if (pattern.size() > best_length && !pattern.empty() && pattern.back() == '/' && path.rfind(pattern, 0) == 0) {
      best = &route;
      best_length = pattern.size();
    }
  }
  return best;
}

const AsyncHttpHandler* BoundedHttpServer::Route::For(const std::string& method) const {
  const AsyncHttpHandler* handler = nullptr;
  if (method == "GET" || method == "HEAD") handler = &get;
  if (method == "POST") handler = &post;
  return handler != nullptr && *handler ? handler : nullptr;
}

std::string BoundedHttpServer::Route::Allow() const {
  if (get && post) return "GET, HEAD, POST";
  return get ? "GET, HEAD" : "POST";
}

absl::Status BoundedHttpServer::Start() {
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (started_) return absl::FailedPreconditionError("HTTP server already started");
  if (options_.tls) {  // before binding: a server that cannot serve TLS does not listen
    auto tls = ReloadingTlsContext::Create(*options_.tls);
    if (!tls.ok()) return tls.status();
    tls_ = std::move(*tls);
  }
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
  BlockSigpipeInThisThread();
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
      if (c.fd < 0 || stopping_) continue;
      if (c.input_ready) {
        c.input_ready = false;
        ProcessInput(c, now);
      }
      if (c.fd >= 0 && ReadableWithoutPoll(c)) OnReadable(c, now);
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
      if ((c.input_ready || ReadableWithoutPoll(c)) && !stopping_) next = now;
      if (c.state == State::kHandling) continue;
      const short events = c.wait_for != 0 ? c.wait_for : c.state == State::kWriting ? POLLOUT : POLLIN;
      fds.push_back({c.fd, events, 0});
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
      if (fds[first_connection + i].revents & (POLLIN | POLLOUT | POLLHUP | POLLERR)) OnReady(c, now);
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
      if (!tls_) {
        ssize_t ignored = send(fd, kOverCapacity, sizeof(kOverCapacity) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)ignored;
      }
      close(fd);
      spdlog::debug("HTTP connection from {} refused: {} connections open", PeerAddress(addr),
                    connections_.size());
      continue;
    }
    std::unique_ptr<Transport> transport = NewTransport(fd, now);
    if (!transport) {
      spdlog::warn("HTTP connection from {} closed: cannot set up TLS: {}", PeerAddress(addr), OpenSslErrors());
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    Connection& c = connections_[next_connection_id_++];
    c.fd = fd;
    c.transport = std::move(transport);
    c.state = tls_ ? State::kHandshaking : State::kReadingHead;
    c.peer = PeerAddress(addr);
    c.deadline = now + options_.request_timeout;  // covers the handshake too
  }
}

std::unique_ptr<Transport> BoundedHttpServer::NewTransport(int fd, Clock::time_point now) {
  if (!tls_) return NewPlainTransport(fd);
  return NewTlsServerTransport(fd, tls_->Current(now));  // Current() picks up renewed files
}

bool BoundedHttpServer::ReadableWithoutPoll(const Connection& c) {
  const bool reading = c.state == State::kReadingHead || c.state == State::kReadingBody ||
                       c.state == State::kLingering;
  return c.fd >= 0 && reading && c.transport->HasPending();
}

void BoundedHttpServer::NoteWait(Connection& c, Transport::Status status) {
  c.wait_for = status == Transport::Status::kWantRead ? POLLIN : status == Transport::Status::kWantWrite ? POLLOUT : 0;
}

void BoundedHttpServer::OnReady(Connection& c, Clock::time_point now) {
  switch (c.state) {
    case State::kHandshaking:
      ContinueHandshake(c, now);
      break;
    case State::kReadingHead:
    case State::kReadingBody:
    case State::kLingering:
      OnReadable(c, now);
      break;
    case State::kWriting:
      Flush(c, now);  // sees an error too
      break;
    case State::kHandling:
      break;  // not polled
  }
}

void BoundedHttpServer::ContinueHandshake(Connection& c, Clock::time_point now) {
  Transport::Status status = c.transport->Handshake();
  NoteWait(c, status);
  if (status == Transport::Status::kOk) {
    c.state = State::kReadingHead;  // the request deadline keeps running from accept
  } else if (status == Transport::Status::kClosed) {
    spdlog::debug("HTTP connection from {} closed: TLS handshake failed: {}", c.peer, c.transport->error());
    CloseConnection(c);
  }
}

void BoundedHttpServer::OnReadable(Connection& c, Clock::time_point now) {
  char buf[kReadChunk];
  Transport::Result read = c.transport->Read(buf, sizeof(buf));
  NoteWait(c, read.status);
  if (read.status == Transport::Status::kClosed) {
    // EOF, reset or a TLS error: the client is gone (a half-closed client gets no response)
    CloseConnection(c);
    return;
  }
  if (read.status != Transport::Status::kOk) return;  // wait for the socket
  absl::string_view data(buf, read.bytes);
  if (c.state == State::kLingering) {
    c.lingered += data.size();
    if (c.lingered > kLingerBytes) CloseConnection(c);
    return;
  }
  if (c.state == State::kReadingBody) data.remove_prefix(TakeBody(c, data));
  c.in.append(data.data(), data.size());
  ProcessInput(c, now);
}

size_t BoundedHttpServer::TakeBody(Connection& c, absl::string_view data) {
  size_t take = std::min(c.body_left, data.size());
  if (c.keep_body) c.body.append(data.data(), take);
  c.body_left -= take;
  return take;
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
    const Route* route = FindRoute(c.head->request.path);
    c.keep_body = c.head->request.method == "POST" && route != nullptr && route->post;
    c.body.clear();
    c.state = State::kReadingBody;
  }
  if (c.state == State::kReadingBody) {
    c.in.erase(0, TakeBody(c, c.in));
    if (c.body_left == 0) Dispatch(c, now);
  }
}

void BoundedHttpServer::Dispatch(Connection& c, Clock::time_point now) {
  HttpRequest request = std::move(c.head->request);
  request.remote_address = c.peer;
  request.body = std::move(c.body);  // empty unless kept for a POST handler
  c.body.clear();
  c.keep_body = false;
  c.keep_alive = c.head->keep_alive;
  c.head_method = request.method == "HEAD";
  c.head.reset();
  c.state = State::kHandling;
  const Route* route = FindRoute(request.path);
  if (route == nullptr) {
    StartResponse(c, {404, "text/plain", absl::StrCat("no handler for ", request.path, "\n")}, now);
    return;
  }
  const AsyncHttpHandler* run = route->For(request.method);
  if (run == nullptr) {
    const std::string allow = route->Allow();
    StartResponse(c,
                  {405, "text/plain", absl::StrCat(request.method, " is not allowed for ", request.path,
                                                   " (allowed: ", allow, ")\n")},
                  now, absl::StrCat("Allow: ", allow, "\r\n"));
    return;
  }
  c.request_id = next_request_id_++;
  auto once = std::make_shared<ReplyOnce>(replies_, c.request_id);
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

void BoundedHttpServer::StartResponse(Connection& c, const HttpResponse& response, Clock::time_point now,
                                      absl::string_view extra_headers) {
  c.close_after_write = !c.keep_alive || stopping_;
  c.out = absl::StrCat("HTTP/1.1 ", response.status, " ", ReasonPhrase(response.status),
                       "\r\nContent-Type: ", response.content_type, "\r\nContent-Length: ", response.body.size(),
                       c.close_after_write ? "\r\nConnection: close" : "\r\nConnection: keep-alive", "\r\n",
                       extra_headers, "\r\n");
  if (!c.head_method) c.out += response.body;
  c.out_sent = 0;
  c.state = State::kWriting;
  c.deadline = now + options_.write_timeout;
  Flush(c, now);
}

void BoundedHttpServer::Flush(Connection& c, Clock::time_point now) {
  while (c.out_sent < c.out.size()) {
    // A retry after kWant* passes the same bytes: `out` does not change until it is sent.
    Transport::Result written = c.transport->Write(c.out.data() + c.out_sent, c.out.size() - c.out_sent);
    NoteWait(c, written.status);
    if (written.status == Transport::Status::kClosed) {
      CloseConnection(c);
      return;
    }
    if (written.status != Transport::Status::kOk) return;  // wait for the socket
    c.out_sent += written.bytes;
    c.deadline = now + options_.write_timeout;
  }
  c.out.clear();
  c.out.shrink_to_fit();
  if (c.close_after_write) {
    if (stopping_) {
      CloseConnection(c);
      return;
    }
    c.transport->Shutdown();  // TLS: close_notify first
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
  if (c.state == State::kHandshaking) {
    spdlog::debug("HTTP connection from {} closed: no TLS handshake within {} ms", c.peer,
                  options_.request_timeout.count());
  }
  CloseConnection(c);  // idle, silent, a client that does not read, or done lingering
}

void BoundedHttpServer::CloseConnection(Connection& c) {
  if (c.fd < 0) return;
  c.transport.reset();  // frees the SSL (it does not close the fd)
  close(c.fd);
  c.fd = -1;
  c.in.clear();
  c.out.clear();
  c.body.clear();
}

}  // namespace keel::http::internal
