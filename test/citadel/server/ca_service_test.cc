// CaService on a real in-process gRPC server with a TLS port (Keel's own
// ServingCert) and a plaintext one: the CA answers on TLS only; with its one
// worker held by a TokenReview that does not return, at most `max_queued`
// calls wait and the rest are RESOURCE_EXHAUSTED at once; a cached caller is
// answered without the queue; a call whose client left while queued is never
// reviewed. The authenticator is a gate (the TokenReview seam), the rest real.
#include "citadel/server/ca_service.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "../ca/test_pki.h"
#include "absl/strings/str_cat.h"
#include "citadel/server/serving_cert.h"

namespace keel::citadel::server {
namespace {

using istio::v1::auth::IstioCertificateRequest;
using istio::v1::auth::IstioCertificateResponse;
using istio::v1::auth::IstioCertificateService;

// A TokenReview that blocks until open(); the token "cached" is known at once.
class GateAuthenticator final : public Authenticator {
 public:
  absl::StatusOr<Caller> Authenticate(const std::multimap<std::string, std::string>&) override {
    ++reviews_;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return open_; });
    return Caller{"ns", "sa"};
  }
  std::optional<Caller> Cached(const std::multimap<std::string, std::string>& metadata) override {
    auto it = metadata.find("authorization");
    if (it != metadata.end() && it->second == "Bearer cached") return Caller{"ns", "cached"};
    return std::nullopt;
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  int reviews() const { return reviews_; }

 private:
  std::atomic<int> reviews_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

bool Eventually(const std::function<bool()>& f) {
  for (int i = 0; i < 500; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return f();
}

// One call in flight from the callback client API.
struct Call {
  grpc::ClientContext context;
  IstioCertificateRequest request;
  IstioCertificateResponse response;
  std::atomic<bool> done{false};
  grpc::Status status;
};

class CaServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca::CaOptions options;
    options.key_type = crypto::KeyType::kEcdsaP256;
    auto files = ca::CreateSelfSignedRoot(options);
    ASSERT_TRUE(files.ok());
    ca_ = std::make_unique<ca::IstioCa>(options, *ca::KeyCertBundle::Create(*files));
    char dir[] = "/tmp/keel-ca-service-test-XXXXXX";
    ASSERT_TRUE(mkdtemp(dir));
    dir_ = dir;
    auto serving = ServingCert::Create(ca_.get(), {dir_, {"istiod.test"}});
    ASSERT_TRUE(serving.ok()) << serving.status();
    serving_ = std::move(*serving);
    service_ = std::make_unique<CaService>(ca_.get(), &auth_, [] { return std::string("cluster.local"); }, CaServiceOptions{1, 2});
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", serving_->Credentials(), &tls_port_);
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &plain_port_);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_);
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ca_->RootsPem();
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("istiod.test");
    tls_ = IstioCertificateService::NewStub(
        grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", tls_port_), grpc::SslCredentials(ssl), args));
    plain_ = IstioCertificateService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", plain_port_), grpc::InsecureChannelCredentials()));
    key_ = testing::NewKey(crypto::KeyType::kEcdsaP256);
    csr_ = testing::MakeCsr(key_.get(), "", "", {}, {});
  }
  void TearDown() override {
    auth_.Open();
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (service_) service_->Shutdown();
    serving_.reset();
    std::system(absl::StrCat("rm -rf ", dir_).c_str());
  }

  std::unique_ptr<Call> Start(IstioCertificateService::Stub* stub, const std::string& token,
                              std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    auto call = std::make_unique<Call>();
    call->context.AddMetadata("authorization", "Bearer " + token);
    call->context.set_deadline(std::chrono::system_clock::now() + timeout);
    call->request.set_csr(csr_);
    Call* raw = call.get();
    stub->async()->CreateCertificate(&raw->context, &raw->request, &raw->response, [raw](grpc::Status status) {
      raw->status = std::move(status);
      raw->done = true;
    });
    return call;
  }

  GateAuthenticator auth_;
  std::unique_ptr<ca::IstioCa> ca_;
  std::string dir_;
  std::unique_ptr<ServingCert> serving_;
  std::unique_ptr<CaService> service_;
  std::unique_ptr<grpc::Server> server_;
  int tls_port_ = 0, plain_port_ = 0;
  std::unique_ptr<IstioCertificateService::Stub> tls_, plain_;
  crypto::EvpPkeyPtr key_;
  std::string csr_;
};

TEST_F(CaServiceTest, PlaintextIsUnimplementedWithoutAReview) {
  auto call = Start(plain_.get(), "cached");
  ASSERT_TRUE(Eventually([&] { return call->done.load(); }));
  EXPECT_EQ(call->status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(call->status.error_message(), "IstioCertificateService is served on the TLS port only (istiod's 15012)");
  EXPECT_EQ(auth_.reviews(), 0);
}

TEST_F(CaServiceTest, BeyondTheQueueIsResourceExhaustedAtOnceAndCachedCallersSkipIt) {
  auto first = Start(tls_.get(), "t0");
  ASSERT_TRUE(Eventually([&] { return auth_.reviews() == 1; })) << "the one worker is in a TokenReview";
  std::vector<std::unique_ptr<Call>> more;
  for (int i = 1; i <= 6; ++i) more.push_back(Start(tls_.get(), absl::StrCat("t", i)));
  // While the review hangs: 2 wait, 4 are refused.
  auto refused = [&] {
    int n = 0;
    for (auto& c : more) n += c->done && c->status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
    return n;
  };
  ASSERT_TRUE(Eventually([&] { return refused() == 4; })) << refused();
  for (auto& c : more) {
    if (c->done) {
      EXPECT_NE(c->status.error_message().find("the CA is busy: 2 calls wait"), std::string::npos);
    }
  }
  // A token accepted a moment ago is answered now, past the queue.
  auto cached = Start(tls_.get(), "cached");
  ASSERT_TRUE(Eventually([&] { return cached->done.load(); }));
  ASSERT_TRUE(cached->status.ok()) << cached->status.error_message();
  EXPECT_EQ(cached->response.cert_chain_size(), 2);
  EXPECT_FALSE(first->done);

  auth_.Open();
  ASSERT_TRUE(Eventually([&] {
    for (auto& c : more) {
      if (!c->done) return false;
    }
    return first->done.load();
  }));
  EXPECT_TRUE(first->status.ok()) << first->status.error_message();
  int issued = 0;
  for (auto& c : more) issued += c->status.ok();
  EXPECT_EQ(issued, 2);
  EXPECT_EQ(auth_.reviews(), 3);
}

TEST_F(CaServiceTest, ACallWhoseClientLeftWhileQueuedIsNotReviewed) {
  auto first = Start(tls_.get(), "t0");
  ASSERT_TRUE(Eventually([&] { return auth_.reviews() == 1; }));
  auto impatient = Start(tls_.get(), "t1", std::chrono::milliseconds(300));
  ASSERT_TRUE(Eventually([&] { return impatient->done.load(); }));
  EXPECT_EQ(impatient->status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  auth_.Open();
  ASSERT_TRUE(Eventually([&] { return first->done.load(); }));
  EXPECT_TRUE(first->status.ok());
  // The worker took the queued call after its deadline: answered without a review.
  auto later = Start(tls_.get(), "t2");
  ASSERT_TRUE(Eventually([&] { return later->done.load(); }));
  EXPECT_TRUE(later->status.ok());
  EXPECT_EQ(auth_.reviews(), 2) << "t0 and t2 only";
}

}  // namespace
}  // namespace keel::citadel::server
