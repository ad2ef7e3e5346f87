#include "pkg/grpc/guarded_listener.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace keel::grpcutil {
namespace {

constexpr int kRetryAfterErrorMs = 100;
constexpr int kPruneEveryMs = 1000;

absl::Status SplitAddr(const std::string& addr, std::string* host, int* port) {
  const size_t colon = addr.rfind(':');
  if (colon == std::string::npos || !absl::SimpleAtoi(addr.substr(colon + 1), port) || *port < 0 || *port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("want HOST:PORT, got \"", addr, "\""));
  }
  *host = addr.substr(0, colon);
  if (absl::StartsWith(*host, "[") && absl::EndsWith(*host, "]")) *host = host->substr(1, host->size() - 2);
  return absl::OkStatus();
}

// A listening socket bound to `sa`, or -1 (errno set).
int ListenOn(const sockaddr* sa, socklen_t len, bool dual_stack) {
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1, zero = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (dual_stack) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
  if (bind(fd, sa, len) != 0 || listen(fd, SOMAXCONN) != 0) {
    const int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

// The peer's IP as text; IPv4 peers of a dual-stack socket without "::ffff:".
std::string PeerIp(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(ss).sin_addr, buf, sizeof(buf));
    return buf;
  }
  const auto& in6 = reinterpret_cast<const sockaddr_in6&>(ss);
  if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
    inet_ntop(AF_INET, &in6.sin6_addr.s6_addr[12], buf, sizeof(buf));
    return buf;
  }
  inet_ntop(AF_INET6, &in6.sin6_addr, buf, sizeof(buf));
  return buf;
}

bool SameSocket(int fd, ino_t inode) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == inode;
}

void SetPort(sockaddr* sa, int port) {
  if (sa->sa_family == AF_INET) reinterpret_cast<sockaddr_in*>(sa)->sin_port = htons(static_cast<uint16_t>(port));
  if (sa->sa_family == AF_INET6) reinterpret_cast<sockaddr_in6*>(sa)->sin6_port = htons(static_cast<uint16_t>(port));
}

int BoundPort(int fd) {
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  return bound.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in&>(bound).sin_port)
                                    : ntohs(reinterpret_cast<sockaddr_in6&>(bound).sin6_port);
}

}  // namespace

absl::StatusOr<std::unique_ptr<GuardedListener>> GuardedListener::Listen(const Options& options) {
  std::string host;
  int port = 0;
  if (auto st = SplitAddr(options.addr, &host, &port); !st.ok()) return st;
  std::vector<int> fds;
  int err = 0;
  if (host == "0.0.0.0" || host == "::" || host.empty()) {
    // Every address, as gRPC's own listener: dual-stack [::], else 0.0.0.0.
    sockaddr_in6 any6{};
    any6.sin6_family = AF_INET6;
    any6.sin6_addr = in6addr_any;
    any6.sin6_port = htons(static_cast<uint16_t>(port));
    int fd = ListenOn(reinterpret_cast<sockaddr*>(&any6), sizeof(any6), /*dual_stack=*/true);
    if (fd < 0) {
      sockaddr_in any4{};
      any4.sin_family = AF_INET;
      any4.sin_addr.s_addr = htonl(INADDR_ANY);
      any4.sin_port = htons(static_cast<uint16_t>(port));
      fd = ListenOn(reinterpret_cast<sockaddr*>(&any4), sizeof(any4), false);
    }
    err = errno;
    if (fd >= 0) fds.push_back(fd);
  } else {
    // Every address the name resolves to (localhost: 127.0.0.1 and ::1), on one port.
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0) {
      return absl::InvalidArgumentError(absl::StrCat("cannot resolve \"", host, "\": ", gai_strerror(rc)));
    }
    for (addrinfo* ai = found; ai; ai = ai->ai_next) {
      if (!fds.empty()) SetPort(ai->ai_addr, BoundPort(fds[0]));  // port 0: the first pick for all
      const int fd = ListenOn(ai->ai_addr, ai->ai_addrlen, false);
      if (fd >= 0) {
        fds.push_back(fd);
      } else {
        err = errno;
      }
    }
    freeaddrinfo(found);
  }
  if (fds.empty()) return absl::UnavailableError(absl::StrCat("cannot listen on ", options.addr, ": ", strerror(err)));
  const int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    for (int fd : fds) close(fd);
    return absl::UnavailableError(absl::StrCat("eventfd: ", strerror(errno)));
  }
  const int bound_port = BoundPort(fds[0]);
  return std::unique_ptr<GuardedListener>(new GuardedListener(options, std::move(fds), bound_port, wake));
}

GuardedListener::GuardedListener(Options options, std::vector<int> fds, int port, int wake_fd)
    : options_(std::move(options)), fds_(std::move(fds)), port_(port), wake_fd_(wake_fd) {}

GuardedListener::~GuardedListener() {
  Stop();
  close(wake_fd_);
}

void GuardedListener::Start(std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor) {
  acceptor_ = std::move(acceptor);
  thread_ = std::thread([this] { AcceptLoop(); });
}

void GuardedListener::Stop() {
  if (stopping_.exchange(true)) return;
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  for (int fd : fds_) close(fd);
}

std::string GuardedListener::NotAcceptingReason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return not_accepting_;
}

void GuardedListener::SetReason(std::string reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (reason == not_accepting_) return;
  if (reason.empty()) {
    spdlog::info("listener {}: accepting connections again", options_.addr);
  } else {
    spdlog::error("listener {}: not accepting connections: {} (retrying every {} ms)", options_.addr, reason,
                  kRetryAfterErrorMs);
  }
  not_accepting_ = std::move(reason);
}

void GuardedListener::AcceptLoop() {
  auto last_prune = std::chrono::steady_clock::now();
  bool paused = false;  // after an accept error: wait, then try again whatever poll says
  std::vector<pollfd> fds;
  fds.push_back({wake_fd_, POLLIN, 0});
  for (int fd : fds_) fds.push_back({fd, POLLIN, 0});
  while (!stopping_.load()) {
    // While paused only the wake descriptor counts: a listening socket stays
    // readable (its backlog is full) and would spin the loop.
    const int n = poll(fds.data(), paused ? 1 : fds.size(), paused ? kRetryAfterErrorMs : kPruneEveryMs);
    if (stopping_.load()) break;
    if (n < 0 && errno != EINTR) {
      SetReason(absl::StrCat("poll: ", strerror(errno)));
      paused = true;
      continue;
    }
    bool ok = true;
    for (int fd : fds_) ok = AcceptAll(fd) && ok;
    paused = !ok;
    if (std::chrono::steady_clock::now() - last_prune > std::chrono::milliseconds(kPruneEveryMs)) {
      PruneAll();
      last_prune = std::chrono::steady_clock::now();
    }
  }
}

bool GuardedListener::AcceptAll(int listener) {
  for (;;) {
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    const int fd = accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      switch (errno) {
        case EINTR:
        case ECONNABORTED:  // the peer gave up while queued: next one
        case EPROTO:
          continue;
        case EAGAIN:
#if EAGAIN != EWOULDBLOCK
        case EWOULDBLOCK:
#endif
          SetReason("");
          return true;
        default:  // EMFILE, ENFILE, ENOBUFS, ENOMEM: try again after a pause
          SetReason(absl::StrCat("accept: ", strerror(errno)));
          return false;
      }
    }
    SetReason("");
    Admit(listener, fd, PeerIp(peer));
  }
}

void GuardedListener::Admit(int listener, int fd, const std::string& peer) {
  const int cap = options_.max_connections_per_peer;
  if (cap > 0 && PruneClosed(peer) >= static_cast<size_t>(cap)) {
    const uint64_t refused = ++refused_over_cap_;
    if ((refused & (refused - 1)) == 0) {  // 1st, 2nd, 4th, 8th ...: a flood does not flood the log
      spdlog::warn("listener {}: closed a connection from {}: it has {} open, the cap (--max-connections-per-ip); "
                   "{} refused so far",
                   options_.addr, peer, cap, refused);
    }
    close(fd);
    if (options_.on_refused) options_.on_refused();
    return;
  }
  struct stat st;
  if (cap > 0 && fstat(fd, &st) == 0) by_peer_[peer].emplace_back(fd, st.st_ino);
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters params;
  params.listener_fd = listener;
  params.fd = fd;
  acceptor_->HandleNewConnection(&params);  // gRPC owns fd from here on
}

size_t GuardedListener::PruneClosed(const std::string& peer) {
  auto it = by_peer_.find(peer);
  if (it == by_peer_.end()) return 0;
  auto& open = it->second;
  open.erase(std::remove_if(open.begin(), open.end(),
                            [](const std::pair<int, ino_t>& c) { return !SameSocket(c.first, c.second); }),
             open.end());
  const size_t left = open.size();
  if (left == 0) by_peer_.erase(it);
  return left;
}

void GuardedListener::PruneAll() {
  std::vector<std::string> peers;
  for (const auto& [peer, open] : by_peer_) peers.push_back(peer);
  for (const auto& peer : peers) PruneClosed(peer);
}

}  // namespace keel::grpcutil
