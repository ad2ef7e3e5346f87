#include "pkg/grpc/guarded_listener.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>

#include "absl/strings/str_cat.h"

namespace keel::grpcutil {
namespace {

using ::testing::HasSubstr;

// A gRPC server (a generic service that answers UNIMPLEMENTED: a served
// connection is all these tests need) fed by a GuardedListener.
struct Served {
  grpc::CallbackGenericService service;
  std::unique_ptr<GuardedListener> listener;
  std::unique_ptr<grpc::Server> server;
  ~Served() {
    listener->Stop();
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
};

std::unique_ptr<Served> Serve(GuardedListener::Options options) {
  auto listener = GuardedListener::Listen(options);
  EXPECT_TRUE(listener.ok()) << listener.status();
  if (!listener.ok()) return nullptr;
  grpc::ServerBuilder builder;
  auto acceptor = builder.experimental().AddExternalConnectionAcceptor(
      grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD, grpc::InsecureServerCredentials());
  auto served = std::make_unique<Served>();
  builder.RegisterCallbackGenericService(&served->service);
  served->server = builder.BuildAndStart();
  served->listener = std::move(*listener);
  served->listener->Start(std::move(acceptor));
  return served;
}

// A channel on a connection of its own (no subchannel sharing between channels).
std::shared_ptr<grpc::Channel> Dial(int port) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args);
}

bool Connects(const std::shared_ptr<grpc::Channel>& channel, std::chrono::seconds within) {
  return channel->WaitForConnected(std::chrono::system_clock::now() + within);
}

TEST(GuardedListenerTest, PortZeroPicksAPortAndServesGrpc) {
  auto served = Serve({"127.0.0.1:0", 0});
  ASSERT_TRUE(served);
  ASSERT_GT(served->listener->port(), 0);
  EXPECT_TRUE(Connects(Dial(served->listener->port()), std::chrono::seconds(10)));
  EXPECT_EQ(served->listener->NotAcceptingReason(), "");
}

TEST(GuardedListenerTest, BadAddressIsInvalidArgumentAndAPortInUseUnavailable) {
  auto bad = GuardedListener::Listen({"no-port", 0});
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("HOST:PORT"));

  auto first = GuardedListener::Listen({"127.0.0.1:0", 0});
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = GuardedListener::Listen({absl::StrCat("127.0.0.1:", (*first)->port()), 0});
  ASSERT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr("in use"));
}

TEST(GuardedListenerTest, ConnectionsPastThePerPeerCapAreClosedUntilOneCloses) {
  std::atomic<int> refused{0};
  auto served = Serve({"127.0.0.1:0", 2, [&refused] { ++refused; }});
  ASSERT_TRUE(served);
  const int port = served->listener->port();
  auto a = Dial(port);
  auto b = Dial(port);
  ASSERT_TRUE(Connects(a, std::chrono::seconds(10)));
  ASSERT_TRUE(Connects(b, std::chrono::seconds(10)));

  auto c = Dial(port);
  EXPECT_FALSE(Connects(c, std::chrono::seconds(2))) << "a third connection from 127.0.0.1 was served";
  EXPECT_GE(refused.load(), 1);
  EXPECT_EQ(served->listener->refused_over_cap(), static_cast<uint64_t>(refused.load()));

  a.reset();  // its connection closes: 127.0.0.1 holds one now
  EXPECT_TRUE(Connects(c, std::chrono::seconds(30))) << "the freed place was not given to a new connection";
}

}  // namespace
}  // namespace keel::grpcutil
