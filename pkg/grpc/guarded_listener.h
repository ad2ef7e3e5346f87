// GuardedListener: a TCP listener that accepts connections for a gRPC server
// itself and hands them over through gRPC's ExternalConnectionAcceptor, in place
// of the server's own listening port.
//
// Why: the listener of gRPC 1.51 (Debian 12's; src/core/lib/iomgr/
// tcp_server_posix.cc, on_read) gives up on a port for good when accept4 fails
// with anything but EINTR/EAGAIN: with the process out of file descriptors
// (EMFILE), it logs "Failed accept4: Too many open files" once and never arms
// the port again, so the port stays open in the kernel (connects succeed, the
// backlog fills) and no connection is ever served again. This 1.51 has no
// per-peer connection limit either (GRPC_ARG_MAX_ALLOWED_INCOMING_CONNECTIONS
// came later and is global). This listener:
//  - retries after such a failure (every 100 ms) and reports, meanwhile, why it
//    is not accepting (NotAcceptingReason(): /ready uses it);
//  - caps the connections one peer IP holds open at once (0: no cap); the one
//    past the cap is closed at once (the client sees the connection close).
// Connections are counted until gRPC closes their descriptor: a tracked
// descriptor whose socket inode changed (or that is closed) is gone.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sys/types.h>

#include <grpcpp/server_builder.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"

namespace keel::grpcutil {

class GuardedListener {
 public:
  struct Options {
    // HOST:PORT: "0.0.0.0" and "::" listen on every address (v4 and v6); a name
    // on every address it resolves to.
    std::string addr;
    int max_connections_per_peer = 0;  // 0: no cap
    std::function<void()> on_refused;  // called (on the accept thread) per connection closed over the cap
  };
  // Binds and listens (port 0 picks a free one). Errors: InvalidArgument for a
  // malformed address, Unavailable when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<GuardedListener>> Listen(const Options& options);
  ~GuardedListener();  // Stop()

  int port() const { return port_; }
  const std::string& addr() const { return options_.addr; }

  // Starts the accepting thread; connections go to `acceptor` (from
  // ServerBuilder::experimental().AddExternalConnectionAcceptor, server started).
  void Start(std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor);
  // Stops accepting and closes the listening socket; established connections are
  // gRPC's. Idempotent.
  void Stop();

  // Empty while accepting; else why not ("accept: Too many open files").
  std::string NotAcceptingReason() const;
  // Connections closed at once because their peer was at the cap.
  uint64_t refused_over_cap() const { return refused_over_cap_.load(); }

 private:
  GuardedListener(Options options, std::vector<int> fds, int port, int wake_fd);
  void AcceptLoop();
  // Accepts from `listener` until its backlog is empty; false after an error that needs a pause.
  bool AcceptAll(int listener);
  // Hands `fd` (accepted on `listener` from `peer`) to gRPC, or closes it when `peer` is at the cap.
  void Admit(int listener, int fd, const std::string& peer);
  // Forgets the connections of `peer` that gRPC has closed; how many are left.
  size_t PruneClosed(const std::string& peer);
  void PruneAll();
  void SetReason(std::string reason);

  const Options options_;
  const std::vector<int> fds_;  // listening sockets, one per bound address
  const int port_;
  const int wake_fd_;  // an eventfd: Stop() wakes the loop
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> refused_over_cap_{0};
  mutable std::mutex mu_;
  std::string not_accepting_ ABSL_GUARDED_BY(mu_);
  // Open connections by peer IP: descriptor and socket inode (the accept thread's only).
  std::map<std::string, std::vector<std::pair<int, ino_t>>> by_peer_;
};

}  // namespace keel::grpcutil
