// The bounded HTTP server with HttpServerOptions::tls, over real sockets on
// 127.0.0.1 with an OpenSSL client: the handshake, ALPN, certificate renewal on
// disk, and that a client that does not speak TLS (or does not finish the
// handshake) is closed.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "pkg/crypto/openssl.h"
#include "pkg/http/http_server.h"
#include "test/pkg/http/http_test_client.h"

namespace keel::http {
namespace {

using namespace std::chrono_literals;

struct SslCtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct SslFree {
  void operator()(SSL* p) const { SSL_free(p); }
};

// A self-signed certificate for IP 127.0.0.1 and its key, as PEM.
struct Identity {
  crypto::X509Ptr cert;
  std::string cert_pem;
  std::string key_pem;
};

Identity SelfSigned(const std::string& common_name, long serial) {
  auto key = crypto::GenerateKey(crypto::KeyType::kEcdsaP256);
  EXPECT_TRUE(key.ok()) << key.status();
  crypto::X509Ptr cert(X509_new());
  X509* x = cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key->get());
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
  const std::pair<int, const char*> extensions[] = {
      {NID_subject_alt_name, "IP:127.0.0.1"},
      {NID_basic_constraints, "critical,CA:TRUE"},
      {NID_key_usage, "critical,digitalSignature,keyCertSign"},
      {NID_ext_key_usage, "serverAuth"},
  };
  for (const auto& [nid, value] : extensions) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    EXPECT_NE(ext, nullptr) << crypto::OpenSslErrors();
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  EXPECT_GT(X509_sign(x, key->get(), EVP_sha256()), 0) << crypto::OpenSslErrors();
  Identity out;
  out.cert_pem = crypto::CertificateToPem(x);
  out.key_pem = crypto::PrivateKeyToPem(key->get());
  out.cert = std::move(cert);
  return out;
}

// As the renewing component does: the whole file, then renamed into place.
void WriteAtomically(const std::string& path, const std::string& content) {
  const std::string temp = path + ".tmp";
  std::ofstream(temp, std::ios::binary | std::ios::trunc) << content;
  ASSERT_EQ(std::rename(temp.c_str(), path.c_str()), 0) << path;
}

// An HTTPS client: TLS over a Client (so 5 s socket timeouts bound every
// call), trusting only `trusted` and checking that it is for IP 127.0.0.1.
class TlsClient : public HttpTestClient {
 public:
  TlsClient(int port, X509* trusted, std::vector<std::string> alpn = {"http/1.1"}) : tcp_(port) {
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_.get()), trusted);
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_fd(ssl_.get(), tcp_.fd());
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_.get()), "127.0.0.1");
    std::string wire;
    for (const auto& protocol : alpn) {
      absl::StrAppend(&wire, std::string(1, static_cast<char>(protocol.size())), protocol);
    }
    if (!wire.empty()) {
      SSL_set_alpn_protos(ssl_.get(), reinterpret_cast<const unsigned char*>(wire.data()),
                          static_cast<unsigned>(wire.size()));
    }
    handshake_ok_ = tcp_.connected() && SSL_connect(ssl_.get()) == 1;
    if (!handshake_ok_) {
      error_ = absl::StrCat(crypto::OpenSslErrors(), " (verify: ",
                            X509_verify_cert_error_string(SSL_get_verify_result(ssl_.get())), ")");
    }
  }

  bool handshake_ok() const { return handshake_ok_; }
  const std::string& error() const { return error_; }
  Client& tcp() { return tcp_; }

  std::string PeerCommonName() const {
    X509* peer = SSL_get0_peer_certificate(ssl_.get());
    if (peer == nullptr) return "";
    char cn[256] = {0};
    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
    return cn;
  }

  std::string Alpn() const {
    const unsigned char* data = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(ssl_.get(), &data, &len);
    return std::string(reinterpret_cast<const char*>(data), len);
  }

  int Version() const { return SSL_version(ssl_.get()); }

  // The next read ends the stream with the server's close_notify.
  bool ReadsCloseNotify() {
    char c;
    size_t n = 0;
    return SSL_read_ex(ssl_.get(), &c, 1, &n) != 1 && SSL_get_error(ssl_.get(), 0) == SSL_ERROR_ZERO_RETURN;
  }

 protected:
  ssize_t SendSome(const char* data, size_t size) override {
    size_t n = 0;
    return SSL_write_ex(ssl_.get(), data, size, &n) == 1 ? static_cast<ssize_t>(n) : -1;
  }
  ssize_t RecvSome(char* buffer, size_t size) override {
    size_t n = 0;
    return SSL_read_ex(ssl_.get(), buffer, size, &n) == 1 ? static_cast<ssize_t>(n) : -1;
  }

 private:
  Client tcp_;
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx_;
  std::unique_ptr<SSL, SslFree> ssl_;
  bool handshake_ok_ = false;
  std::string error_;
};

// Blocks SIGPIPE in the test thread (the client writes with OpenSSL, which can
// raise it) while letting the server's I/O thread, created before, show that it
// does not need the process to ignore SIGPIPE. Drains a pending one on the way out.
class ScopedBlockSigpipe {
 public:
  ScopedBlockSigpipe() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~ScopedBlockSigpipe() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    timespec zero{0, 0};
    while (sigtimedwait(&set, nullptr, &zero) == SIGPIPE) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t old_;
};

// What a client that is not TLS gets: everything until the server closes (at
// most 5 s), and whether it did close.
std::pair<std::string, bool> ReadUntilClosed(Client& client) {
  std::string all;
  char buf[4096];
  for (int i = 0; i < 1000; ++i) {
    ssize_t n = recv(client.fd(), buf, sizeof(buf), 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return {all, true};
    if (n < 0) return {all, false};  // 5 s without anything
    all.append(buf, static_cast<size_t>(n));
  }
  return {all, false};
}

HttpResponse Echo(const HttpRequest& r) {
  return {200, "text/plain", absl::StrCat("method=", r.method, "\npath=", r.path, "\nremote=", r.remote_address,
                                          "\nbody=", r.body, "\n")};
}

class HttpsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/keel-https-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    files_.cert_chain_path = dir_ + "/tls.crt";
    files_.key_path = dir_ + "/tls.key";
    first_ = SelfSigned("keel-test-1", 1);
    WriteAtomically(files_.cert_chain_path, first_.cert_pem);
    WriteAtomically(files_.key_path, first_.key_pem);
  }

  void TearDown() override {
    server_.reset();
    sigpipe_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartServer(HttpServerOptions options = {}) {
    options.tls = files_;
    auto server = CreateHttpServer("127.0.0.1", 0, options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    server_->Handle("/echo", Echo);
    server_->HandlePost("/review", Echo);
    server_->Handle("/big", [](const HttpRequest&) {
      return HttpResponse{200, "text/plain", std::string(8 << 20, 'b')};
    });
    absl::Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started;
    sigpipe_ = std::make_unique<ScopedBlockSigpipe>();  // after the I/O thread exists: it does not inherit the block
  }

  std::string dir_;
  HttpServerOptions::TlsFiles files_;
  Identity first_;
  HttpServerPtr server_;
  std::unique_ptr<ScopedBlockSigpipe> sigpipe_;
};

TEST_F(HttpsServerTest, ServesGetAndPostOverTlsWithTheConfiguredCertificate) {
  StartServer();
  TlsClient client(server_->port(), first_.cert.get(), {"h2", "http/1.1"});
  ASSERT_TRUE(client.handshake_ok()) << client.error();
  EXPECT_EQ(client.PeerCommonName(), "keel-test-1");
  EXPECT_EQ(client.Alpn(), "http/1.1") << "h2 is never selected";
  EXPECT_GE(client.Version(), TLS1_2_VERSION);

  auto get = client.Get("/echo");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "method=GET\npath=/echo\nremote=127.0.0.1\nbody=\n");

  const std::string review = R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1"})";
  auto post = client.Post("/review", review);
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 200);
  EXPECT_EQ(post->body, absl::StrCat("method=POST\npath=/review\nremote=127.0.0.1\nbody=", review, "\n"));

  // Many records each way: a body at the limit in, 8 MiB out (partial writes).
  const std::string big_body(1024 * 1024, 'p');
  auto big_post = client.Post("/review", big_body);
  ASSERT_TRUE(big_post);
  EXPECT_EQ(big_post->body, absl::StrCat("method=POST\npath=/review\nremote=127.0.0.1\nbody=", big_body, "\n"));
  auto big = client.Get("/big");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->body.size(), 8u << 20);

  // Pipelined in one record.
  ASSERT_TRUE(client.Send("GET /echo?n=1 HTTP/1.1\r\n\r\nPOST /review HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"));
  auto p1 = client.Read(), p2 = client.Read();
  ASSERT_TRUE(p1 && p2);
  EXPECT_EQ(p1->status, 200);
  EXPECT_NE(p2->body.find("body={}\n"), std::string::npos) << p2->body;

  auto wrong_method = client.Get("/review");
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->status, 405);

  auto last = client.Get("/echo", "Connection: close\r\n");
  ASSERT_TRUE(last);
  EXPECT_EQ(last->headers["connection"], "close");
  EXPECT_TRUE(client.ReadsCloseNotify()) << "the server sends close_notify before closing";
}

TEST_F(HttpsServerTest, NeverSelectsH2AndServesClientsWithoutAlpn) {
  StartServer();
  TlsClient h2_only(server_->port(), first_.cert.get(), {"h2"});
  ASSERT_TRUE(h2_only.handshake_ok()) << h2_only.error();
  EXPECT_EQ(h2_only.Alpn(), "");
  auto r = h2_only.Get("/echo");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);

  TlsClient no_alpn(server_->port(), first_.cert.get(), {});
  ASSERT_TRUE(no_alpn.handshake_ok()) << no_alpn.error();
  EXPECT_EQ(no_alpn.Alpn(), "");
  auto n = no_alpn.Get("/echo");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->status, 200);
}

TEST_F(HttpsServerTest, ARenewedCertificateIsServedToNewConnectionsAndABadOneIsNot) {
  StartServer();
  TlsClient before(server_->port(), first_.cert.get());
  ASSERT_TRUE(before.handshake_ok()) << before.error();
  ASSERT_TRUE(before.Get("/echo"));

  // A certificate that does not match the key on disk: not loaded, the last good one is served.
  Identity second = SelfSigned("keel-test-2", 2);
  WriteAtomically(files_.cert_chain_path, second.cert_pem);
  std::this_thread::sleep_for(1100ms);
  {
    TlsClient during(server_->port(), first_.cert.get());
    ASSERT_TRUE(during.handshake_ok()) << during.error();
    EXPECT_EQ(during.PeerCommonName(), "keel-test-1");
  }

  // The matching key arrives: new connections get the new certificate (checked
  // at most once a second, so retry for a bounded while).
  WriteAtomically(files_.key_path, second.key_pem);
  bool renewed = false;
  std::string last_error;
  for (int i = 0; i < 25 && !renewed; ++i) {
    std::this_thread::sleep_for(200ms);
    TlsClient after(server_->port(), second.cert.get());
    renewed = after.handshake_ok() && after.PeerCommonName() == "keel-test-2";
    last_error = after.error();
    if (renewed) {
      auto r = after.Post("/review", "{}");
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 200);
    }
  }
  EXPECT_TRUE(renewed) << "the new certificate was not served within 5 s: " << last_error;
  {
    TlsClient old_trust(server_->port(), first_.cert.get());
    EXPECT_FALSE(old_trust.handshake_ok()) << "the old certificate is still served";
  }

  // A connection made before keeps working.
  auto r = before.Get("/echo");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpsServerTest, PlaintextOrGarbageIsClosedWithoutAResponseAndTlsIsServedAfter) {
  StartServer();
  const std::vector<std::string> inputs = {
      "GET /echo HTTP/1.1\r\nHost: test\r\n\r\n",
      "POST /review HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
      std::string("\x16\x03\x01\x00\x05hello\x00\xff garbage", 20),  // a record header, then nonsense
  };
  for (const auto& input : inputs) {
    Client plain(server_->port());
    ASSERT_TRUE(plain.Send(input));
    auto [received, closed] = ReadUntilClosed(plain);
    EXPECT_TRUE(closed) << absl::CEscape(input);
    EXPECT_EQ(received.find("HTTP/"), std::string::npos) << absl::CEscape(received);
  }
  TlsClient client(server_->port(), first_.cert.get());
  ASSERT_TRUE(client.handshake_ok()) << client.error();
  auto r = client.Get("/echo");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpsServerTest, AClientThatDoesNotHandshakeIsClosedAfterTheRequestTimeout) {
  HttpServerOptions options;
  options.request_timeout = 300ms;
  StartServer(options);
  const auto start = std::chrono::steady_clock::now();
  Client silent(server_->port());
  Client partial(server_->port());
  ASSERT_TRUE(partial.Send(std::string("\x16\x03\x01\x00\xff\x01", 6)));  // a ClientHello that never ends
  EXPECT_TRUE(silent.ClosedByPeer());
  EXPECT_TRUE(partial.ClosedByPeer());
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 3s);

  // Handshaken but silent: closed too, without a 408 (no request started).
  TlsClient idle(server_->port(), first_.cert.get());
  ASSERT_TRUE(idle.handshake_ok()) << idle.error();
  auto nothing = idle.Read();
  EXPECT_FALSE(nothing);

  TlsClient client(server_->port(), first_.cert.get());
  ASSERT_TRUE(client.handshake_ok()) << client.error();
  auto r = client.Get("/echo");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpsServerTest, ConnectionsBeyondTheCapAreClosedWithoutAPlaintextAnswer) {
  HttpServerOptions options;
  options.max_connections = 2;
  StartServer(options);
  TlsClient a(server_->port(), first_.cert.get()), b(server_->port(), first_.cert.get());
  ASSERT_TRUE(a.handshake_ok() && b.handshake_ok());
  {
    Client third(server_->port());
    auto [received, closed] = ReadUntilClosed(third);
    EXPECT_TRUE(closed);
    EXPECT_EQ(received, "");
  }
  for (TlsClient* c : {&a, &b}) {
    auto r = c->Get("/echo");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
}

TEST_F(HttpsServerTest, AClientThatGoesAwayMidResponseDoesNotHurtTheServer) {
  StartServer();
  for (int i = 0; i < 20; ++i) {
    TlsClient client(server_->port(), first_.cert.get());
    ASSERT_TRUE(client.handshake_ok()) << client.error();
    ASSERT_TRUE(client.Send("GET /big HTTP/1.1\r\n\r\n"));
    char buf[1024];
    ASSERT_GT(recv(client.tcp().fd(), buf, sizeof(buf), 0), 0);
    linger reset{1, 0};  // close with an RST: the server's next writes fail (EPIPE, ECONNRESET)
    setsockopt(client.tcp().fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  }
  std::this_thread::sleep_for(200ms);
  TlsClient client(server_->port(), first_.cert.get());
  ASSERT_TRUE(client.handshake_ok()) << client.error();
  auto r = client.Get("/echo");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(HttpsServerStartTest, FailsNamingTheFileThatDoesNotLoad) {
  char dir_template[] = "/tmp/keel-https-start-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  Identity one = SelfSigned("one", 1), two = SelfSigned("two", 2);
  WriteAtomically(dir + "/one.crt", one.cert_pem);
  WriteAtomically(dir + "/two.key", two.key_pem);
  WriteAtomically(dir + "/junk.crt", "not PEM\n");
  struct Case {
    std::string cert, key, named, says;
  };
  const std::vector<Case> cases = {
      {dir + "/missing.crt", dir + "/two.key", dir + "/missing.crt", "certificate chain"},
      {dir + "/junk.crt", dir + "/two.key", dir + "/junk.crt", "certificate chain"},
      {dir + "/one.crt", dir + "/missing.key", dir + "/missing.key", "private key"},
      {dir + "/one.crt", dir + "/two.key", dir + "/two.key", "does not match the certificate"},
  };
  for (const auto& c : cases) {
    HttpServerOptions options;
    options.tls = HttpServerOptions::TlsFiles{c.cert, c.key};
    auto server = CreateHttpServer("127.0.0.1", 0, options);
    ASSERT_TRUE(server.ok());
    absl::Status started = (*server)->Start();
    EXPECT_EQ(started.code(), absl::StatusCode::kInvalidArgument) << started;
    EXPECT_NE(started.message().find(c.named), std::string::npos) << started;
    EXPECT_NE(started.message().find(c.says), std::string::npos) << started;
    EXPECT_EQ((*server)->port(), 0) << "nothing listens";
  }
  HttpServerOptions empty;
  empty.tls = HttpServerOptions::TlsFiles{"", dir + "/two.key"};
  EXPECT_EQ(CreateHttpServer("127.0.0.1", 0, empty).status().code(), absl::StatusCode::kInvalidArgument);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace keel::http
