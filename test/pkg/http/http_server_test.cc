// The bounded HTTP server over real sockets on 127.0.0.1: what it serves, and
// that every bound (header, body, request timeout, connection cap) holds.
#include "pkg/http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "test/pkg/http/http_test_client.h"

namespace keel::http {
namespace {

using namespace std::chrono_literals;

// The request as the handler saw it, as text.
HttpResponse Echo(const HttpRequest& r) {
  std::string out = absl::StrCat("method=", r.method, "\npath=", r.path, "\nremote=", r.remote_address, "\n");
  for (const auto& [k, v] : r.query) absl::StrAppend(&out, "query[", k, "]=", v, "\n");
  for (const auto& [k, v] : r.headers) absl::StrAppend(&out, "header[", k, "]=", v, "\n");
  absl::StrAppend(&out, "body=", r.body, "\n");
  return {200, "text/plain", out};
}

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options = {}) {
    auto server = CreateHttpServer("127.0.0.1", 0, options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    server_->Handle("/echo", Echo);
    server_->HandlePost("/post", Echo);  // POST only
    server_->Handle("/both", [](const HttpRequest&) { return HttpResponse{200, "text/plain", "get\n"}; });
    server_->HandlePost("/both",
                        [](const HttpRequest& r) { return HttpResponse{200, "text/plain", "post " + r.body}; });
    for (const auto& [path, handler] : async_handlers_) server_->HandleAsync(path, handler);
    for (const auto& [path, handler] : async_post_handlers_) server_->HandlePost(path, handler);
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_GT(server_->port(), 0);
  }

  std::map<std::string, AsyncHttpHandler> async_handlers_;
  std::map<std::string, AsyncHttpHandler> async_post_handlers_;
  HttpServerPtr server_;
};

TEST_F(HttpServerTest, ServesTheRequestDecodedWithLowerCaseHeaderNames) {
  StartServer();
  Client client(server_->port());
  auto r = client.Get("/echo?a=1&b=%2Fx+y%26&c&%6Bey=v", "X-Mixed-Case: Value\r\nX-Twice: 1\r\nx-twice: 2\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers["content-type"], "text/plain");
  EXPECT_EQ(r->headers["content-length"], std::to_string(r->body.size()));
  EXPECT_NE(r->body.find("method=GET\npath=/echo\nremote=127.0.0.1\n"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("query[a]=1\nquery[b]=/x y&\nquery[c]=\nquery[key]=v\n"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("header[x-mixed-case]=Value\n"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("header[x-twice]=1, 2\n"), std::string::npos) << r->body;

  auto missing = client.Get("/nothing%20here");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->body, "no handler for /nothing here\n");
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnectionPipelinedToo) {
  StartServer();
  Client client(server_->port());
  for (int i = 0; i < 5; ++i) {
    auto r = client.Get(absl::StrCat("/echo?i=", i));
    ASSERT_TRUE(r) << "request " << i;
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->body.find(absl::StrCat("query[i]=", i)), std::string::npos);
    EXPECT_EQ(r->headers["connection"], "keep-alive");
  }
  // Three requests in one write, one of them with a small body: three responses, in order.
  ASSERT_TRUE(client.Send("GET /echo?n=1 HTTP/1.1\r\n\r\nGET /echo?n=2 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                          "GET /echo?n=3 HTTP/1.1\r\nConnection: close\r\n\r\n"));
  for (int n = 1; n <= 3; ++n) {
    auto r = client.Read();
    ASSERT_TRUE(r) << "pipelined request " << n;
    EXPECT_NE(r->body.find(absl::StrCat("query[n]=", n)), std::string::npos) << r->body;
  }
  EXPECT_TRUE(client.ClosedByPeer()) << "Connection: close was asked for";
}

TEST_F(HttpServerTest, AcceptsBareLineFeedsAndEmptyLinesBeforeARequest) {
  StartServer();
  Client client(server_->port());
  ASSERT_TRUE(client.Send("\r\n\r\nGET /echo?lf=1 HTTP/1.1\nX-Lf: yes\n\n"));
  auto r = client.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("query[lf]=1\n"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("header[x-lf]=yes\n"), std::string::npos) << r->body;
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAliveIsAskedFor) {
  StartServer();
  Client plain(server_->port());
  ASSERT_TRUE(plain.Send("GET /echo HTTP/1.0\r\n\r\n"));
  auto r = plain.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers["connection"], "close");
  EXPECT_TRUE(plain.ClosedByPeer());

  Client kept(server_->port());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(kept.Send("GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto k = kept.Read();
    ASSERT_TRUE(k) << i;
    EXPECT_EQ(k->headers["connection"], "keep-alive");
  }
}

TEST_F(HttpServerTest, HeadGetsTheHeadersOnly) {
  StartServer();
  Client client(server_->port());
  ASSERT_TRUE(client.Send("HEAD /echo HTTP/1.1\r\n\r\n"));
  auto r = client.Read(/*head_request=*/true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_GT(std::stoul(r->headers["content-length"]), 0u);
  auto next = client.Get("/echo");  // nothing of a body came before this response
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
}

TEST_F(HttpServerTest, RefusesWhatItDoesNotServeWithTheRightStatus) {
  StartServer();
  struct Case {
    std::string request;
    int status;
  };
  const std::vector<Case> cases = {
      {"POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi", 405},
      {"GET /echo\r\n\r\n", 400},                       // no version
      {"GET  /echo HTTP/1.1\r\n\r\n", 400},             // two spaces
      {"G(T /echo HTTP/1.1\r\n\r\n", 400},              // not a token
      {"GET /echo HTTP/1.1\r\nNo colon here\r\n\r\n", 400},
      {"GET /echo HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", 400},
      {"GET /echo%zz HTTP/1.1\r\n\r\n", 400},
      {"GET /echo?a=%4 HTTP/1.1\r\n\r\n", 400},
      {"GET /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
      {"GET /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
      {"GET /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 411},
      {"GET /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
      {"GET /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400},
      {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
      {"GET /echo HTTP/3.7\r\n\r\n", 505},
      {std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11), 400},  // a TLS ClientHello, no newline
  };
  for (const auto& c : cases) {
    Client client(server_->port());
    ASSERT_TRUE(client.Send(c.request));
    auto r = client.Read();
    ASSERT_TRUE(r) << absl::CEscape(c.request);
    EXPECT_EQ(r->status, c.status) << absl::CEscape(c.request) << ": " << r->body;
    if (c.status != 405) {
      EXPECT_EQ(r->headers["connection"], "close") << absl::CEscape(c.request);
      EXPECT_TRUE(client.ClosedByPeer()) << absl::CEscape(c.request);
    }
  }
  Client after(server_->port());
  auto r = after.Get("/echo");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, APostHandlerGetsTheBodyAndTheConnectionStaysInStep) {
  std::thread replier;
  async_post_handlers_["/review"] = [&](const HttpRequest& r, HttpReply reply) {
    replier = std::thread([reply, body = r.body] { reply({200, "application/json", "{\"got\":" + body + "}"}); });
  };
  StartServer();
  Client client(server_->port());
  const std::string review = R"({"kind":"AdmissionReview","request":{"uid":"u1"}})";
  auto r = client.Post("/post?dryRun=1", review);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("method=POST\npath=/post\n"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("query[dryRun]=1\n"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("header[content-type]=application/json\n"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("\nbody=" + review + "\n"), std::string::npos) << r->body;

  auto async = client.Post("/review", "[1,2]");  // the asynchronous overload, replying from another thread
  ASSERT_TRUE(async);
  EXPECT_EQ(async->status, 200);
  EXPECT_EQ(async->headers["content-type"], "application/json");
  EXPECT_EQ(async->body, "{\"got\":[1,2]}");
  replier.join();

  // Any bytes, a head terminator among them; and an empty body.
  const std::string binary("a\r\n\r\nGET /x HTTP/1.1\r\n\r\n\0\xff", 26);
  auto both = client.Post("/both", binary);
  ASSERT_TRUE(both);
  EXPECT_EQ(both->body, "post " + binary);
  auto empty = client.Post("/both", "");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->body, "post ");

  // Pipelined: a POST, then a GET with a body (read and discarded, the handler sees none).
  ASSERT_TRUE(client.Send("POST /both HTTP/1.1\r\nContent-Length: 3\r\n\r\none"
                          "GET /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                          "GET /both HTTP/1.1\r\n\r\n"));
  auto p1 = client.Read(), p2 = client.Read(), p3 = client.Read();
  ASSERT_TRUE(p1 && p2 && p3);
  EXPECT_EQ(p1->body, "post one");
  EXPECT_NE(p2->body.find("method=GET\n"), std::string::npos) << p2->body;
  EXPECT_NE(p2->body.find("\nbody=\n"), std::string::npos) << p2->body;
  EXPECT_EQ(p3->body, "get\n");
}

TEST_F(HttpServerTest, APathEndingInASlashServesItsSubtreeAndTheLongestWins) {
  async_post_handlers_["/tree/"] = [](const HttpRequest& r, HttpReply reply) {
    reply({200, "text/plain", "tree " + r.path + " " + r.body});
  };
  async_post_handlers_["/tree/deeper/"] = [](const HttpRequest& r, HttpReply reply) {
    reply({200, "text/plain", "deeper " + r.path});
  };
  StartServer();
  Client client(server_->port());
  auto under = client.Post("/tree/cluster/c1/net/n1?timeout=10s", "x");
  ASSERT_TRUE(under);
  EXPECT_EQ(under->status, 200);
  EXPECT_EQ(under->body, "tree /tree/cluster/c1/net/n1 x") << "the body is kept for a subtree's POST handler";
  auto deeper = client.Post("/tree/deeper/a", "");
  ASSERT_TRUE(deeper);
  EXPECT_EQ(deeper->body, "deeper /tree/deeper/a");
  auto root = client.Post("/tree/", "y");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->body, "tree /tree/ y");
  auto outside = client.Post("/tree", "{}");  // not under "/tree/", and no exact route
  ASSERT_TRUE(outside);
  EXPECT_EQ(outside->status, 404);
  auto exact_only = client.Post("/post/more", "{}");  // "/post" has no subtree
  ASSERT_TRUE(exact_only);
  EXPECT_EQ(exact_only->status, 404);
}

TEST_F(HttpServerTest, AMethodThePathHasNoHandlerForIs405WithAllow) {
  StartServer();
  Client client(server_->port());
  auto post_to_get = client.Post("/echo", "{}");
  ASSERT_TRUE(post_to_get);
  EXPECT_EQ(post_to_get->status, 405);
  EXPECT_EQ(post_to_get->body, "POST is not allowed for /echo (allowed: GET, HEAD)\n");
  EXPECT_EQ(post_to_get->headers["allow"], "GET, HEAD");
  EXPECT_EQ(post_to_get->headers["connection"], "keep-alive") << "the body was read: the connection is in step";

  auto get_to_post = client.Get("/post");
  ASSERT_TRUE(get_to_post);
  EXPECT_EQ(get_to_post->status, 405);
  EXPECT_EQ(get_to_post->body, "GET is not allowed for /post (allowed: POST)\n");
  EXPECT_EQ(get_to_post->headers["allow"], "POST");

  ASSERT_TRUE(client.Send("HEAD /post HTTP/1.1\r\n\r\n"));
  auto head = client.Read(/*head_request=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 405);

  ASSERT_TRUE(client.Send("PUT /both HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"));
  auto put = client.Read();
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 405);
  EXPECT_EQ(put->headers["allow"], "GET, HEAD, POST");

  auto missing = client.Post("/nothing", "{}");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);

  auto get = client.Get("/both");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->body, "get\n");
}

TEST_F(HttpServerTest, APostBodyOverTheLimitIs413BeforeItIsReadAndOneAtTheLimitIsDelivered) {
  HttpServerOptions options;
  options.max_body_bytes = 64 * 1024;
  StartServer(options);
  {
    Client client(server_->port());
    ASSERT_TRUE(client.Send("POST /both HTTP/1.1\r\nContent-Length: 65537\r\n\r\n"));  // no body sent
    auto r = client.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(r->body, "request body larger than 65536 bytes\n");
    EXPECT_TRUE(client.ClosedByPeer());
  }
  {
    Client client(server_->port());
    ASSERT_TRUE(client.Send("POST /both HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"));
    auto r = client.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 411);
    EXPECT_TRUE(client.ClosedByPeer());
  }
  {
    Client client(server_->port());
    std::string body(64 * 1024, 'x');
    body.front() = '<';
    body.back() = '>';
    auto r = client.Post("/both", body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "post " + body);
  }
}

size_t ResidentBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6)) * 1024;
  }
  return 0;
}

// Sends `head_start` then `total` bytes of filler until the server answers or
// stops reading; returns how much filler went out and the response, if any.
std::pair<size_t, std::optional<Response>> SendUntilAnswered(Client& client, const std::string& head_start,
                                                             char filler, size_t total) {
  EXPECT_TRUE(client.Send(head_start));
  const std::string chunk(64 * 1024, filler);
  size_t sent = 0;
  while (sent < total) {
    pollfd p{client.fd(), POLLIN | POLLOUT, 0};
    if (poll(&p, 1, 5000) <= 0) break;  // neither readable nor writable for 5 s: the server stopped reading
    if (p.revents & (POLLIN | POLLERR | POLLHUP)) break;
    ssize_t n = send(client.fd(), chunk.data(), std::min(chunk.size(), total - sent), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  return {sent, client.Read()};
}

TEST_F(HttpServerTest, AnUnterminated300MiBHeaderIs431AfterAboutTheLimit) {
  HttpServerOptions options;
  options.max_header_bytes = 16 * 1024;
  StartServer(options);
  const size_t rss_before = ResidentBytes();
  Client client(server_->port());
  auto [sent, response] = SendUntilAnswered(client, "GET /echo HTTP/1.1\r\nX-Long: ", 'a', 300u << 20);
  ASSERT_TRUE(response) << "no response after " << sent << " bytes";
  EXPECT_EQ(response->status, 431);
  EXPECT_EQ(response->body, "request header larger than 16384 bytes\n");
  // Socket buffers hold a few MiB at most; the server read about the limit.
  EXPECT_LT(sent, 32u << 20) << "the server kept reading the header";
  EXPECT_TRUE(client.ClosedByPeer());
  EXPECT_LT(ResidentBytes(), rss_before + (32u << 20));
  std::cout << "431 after " << sent << " bytes sent; RSS " << rss_before << " -> " << ResidentBytes() << "\n";

  // Many header lines, each short, count alike.
  Client lines(server_->port());
  std::string many = "GET /echo HTTP/1.1\r\n";
  for (int i = 0; i < 2000; ++i) absl::StrAppend(&many, "X-", i, ": v\r\n");
  lines.Send(many);
  auto r = lines.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);

  Client after(server_->port());
  auto ok = after.Get("/echo");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_F(HttpServerTest, A300MiBBodyIs413BeforeItIsRead) {
  HttpServerOptions options;
  options.max_body_bytes = 1024 * 1024;
  StartServer(options);
  {
    Client client(server_->port());
    // The head alone gets the answer: the body is never sent.
    ASSERT_TRUE(client.Send("GET /echo HTTP/1.1\r\nContent-Length: 314572800\r\n\r\n"));
    auto r = client.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(r->body, "request body larger than 1048576 bytes\n");
    EXPECT_TRUE(client.ClosedByPeer());
  }
  {
    Client client(server_->port());
    auto [sent, r] = SendUntilAnswered(client, "GET /echo HTTP/1.1\r\nContent-Length: 314572800\r\n\r\n", 'z',
                                       300u << 20);
    ASSERT_TRUE(r) << "no response after " << sent << " bytes";
    EXPECT_EQ(r->status, 413);
    EXPECT_LT(sent, 32u << 20);
  }
  {
    Client client(server_->port());  // at the limit: read, discarded, served
    ASSERT_TRUE(client.Send(absl::StrCat("GET /echo HTTP/1.1\r\nContent-Length: 1048576\r\n\r\n",
                                         std::string(1024 * 1024, 'x'))));
    auto r = client.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    auto next = client.Get("/echo");
    ASSERT_TRUE(next);
    EXPECT_EQ(next->status, 200);
  }
}

TEST_F(HttpServerTest, SlowlorisAndSilenceAreClosedAfterTheRequestTimeout) {
  HttpServerOptions options;
  options.request_timeout = 300ms;
  StartServer(options);
  Client silent(server_->port());
  Client slow(server_->port());
  ASSERT_TRUE(slow.Send("GET /echo HTTP/1.1\r\n"));
  // One header byte each 50 ms, each one before any read deadline could pass;
  // the request as a whole must still arrive within 300 ms. Bounded: 5 s.
  bool answered = false;
  for (int i = 0; i < 100 && !answered; ++i) {
    std::this_thread::sleep_for(50ms);
    if (!slow.Send("X")) break;  // the server closed
    pollfd p{slow.fd(), POLLIN, 0};
    answered = poll(&p, 1, 0) > 0;
  }
  auto r = slow.Read();
  ASSERT_TRUE(r) << "no 408 within 5 s";
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(slow.ClosedByPeer());
  EXPECT_TRUE(silent.ClosedByPeer()) << "a connection that sends nothing is closed silently";
}

TEST_F(HttpServerTest, AnIdleKeptAliveConnectionIsClosedAfterTheIdleTimeout) {
  HttpServerOptions options;
  options.idle_timeout = 200ms;
  StartServer(options);
  Client client(server_->port());
  ASSERT_TRUE(client.Get("/echo"));
  EXPECT_TRUE(client.ClosedByPeer());
}

TEST_F(HttpServerTest, AClientThatDoesNotReadIsClosedAfterTheWriteTimeout) {
  constexpr size_t kBody = 64u << 20;  // more than loopback socket buffers hold
  async_handlers_["/big"] = [](const HttpRequest&, HttpReply reply) {
    reply({200, "text/plain", std::string(kBody, 'b')});
  };
  HttpServerOptions options;
  options.write_timeout = 200ms;
  StartServer(options);
  Client client(server_->port());
  ASSERT_TRUE(client.Send("GET /big HTTP/1.1\r\n\r\n"));
  std::this_thread::sleep_for(1s);  // not reading: the server's writes stall, then it gives up
  // Should the server not give up, reading would block on the kept-alive socket:
  // a receive timeout turns that into a failure instead of a hang.
  timeval five_seconds{5, 0};
  setsockopt(client.fd(), SOL_SOCKET, SO_RCVTIMEO, &five_seconds, sizeof(five_seconds));
  size_t received = 0;
  char buf[65536];
  for (ssize_t n; (n = recv(client.fd(), buf, sizeof(buf), 0)) > 0;) received += static_cast<size_t>(n);
  EXPECT_LT(received, kBody) << "the whole response arrived: the server did not close a stalled write";
}

TEST_F(HttpServerTest, ConnectionsBeyondTheCapAreRefusedAndServedAgainAfterOthersClose) {
  HttpServerOptions options;
  options.max_connections = 4;
  StartServer(options);
  std::vector<std::unique_ptr<Client>> open;
  for (int i = 0; i < 4; ++i) {
    open.push_back(std::make_unique<Client>(server_->port()));
    auto r = open.back()->Get("/echo");  // accepted and served: it counts
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200);
  }
  {
    Client fifth(server_->port());
    ASSERT_TRUE(fifth.connected()) << "the kernel accepts; the server refuses";
    fifth.Send("GET /echo HTTP/1.1\r\n\r\n");
    auto r = fifth.Read();
    if (r) {  // else the close came first and reset the connection
      EXPECT_EQ(r->status, 503);
      EXPECT_EQ(r->body, "too many connections\n");
    }
    EXPECT_TRUE(fifth.ClosedByPeer());
  }
  for (auto& c : open) {  // the four are still served
    auto r = c->Get("/echo");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  open.pop_back();
  // The server sees the close on its next poll; bounded retry.
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    Client again(server_->port());
    auto r = again.Get("/echo");
    served = r && r->status == 200;
    if (!served) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(served);
}

TEST_F(HttpServerTest, AsyncRepliesComeFromAnyThreadOnceAndAMissingOneIs500) {
  std::vector<std::thread> threads;
  async_handlers_["/later"] = [&](const HttpRequest&, HttpReply reply) {
    threads.emplace_back([reply] {
      std::this_thread::sleep_for(50ms);
      reply({201, "text/plain", "later\n"});
      reply({500, "text/plain", "second reply\n"});  // ignored
    });
  };
  async_handlers_["/never"] = [](const HttpRequest&, HttpReply) {};
  async_handlers_["/throws"] = [](const HttpRequest&, HttpReply) { throw std::runtime_error("boom"); };
  StartServer();
  Client client(server_->port());
  auto r = client.Get("/later");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "later\n");
  auto never = client.Get("/never");
  ASSERT_TRUE(never);
  EXPECT_EQ(never->status, 500);
  EXPECT_EQ(never->body, "the handler did not reply\n");
  auto thrown = client.Get("/throws");
  ASSERT_TRUE(thrown);
  EXPECT_EQ(thrown->status, 500);
  EXPECT_EQ(thrown->body, "internal error: boom\n");
  auto next = client.Get("/echo");  // the connection is still in step
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
  for (auto& t : threads) t.join();
}

TEST_F(HttpServerTest, StopFinishesRunningHandlersAndDropsLaterAsyncReplies) {
  std::promise<void> sync_entered, release_sync;
  std::shared_future<void> release = release_sync.get_future().share();
  std::promise<HttpReply> held;
  async_handlers_["/slow"] = [&](const HttpRequest&, HttpReply reply) {
    sync_entered.set_value();
    release.wait();
    reply({200, "text/plain", "finished\n"});
  };
  async_handlers_["/held"] = [&](const HttpRequest&, HttpReply reply) { held.set_value(std::move(reply)); };
  StartServer();
  const int port = server_->port();
  Client slow(port), waiting(port);
  ASSERT_TRUE(waiting.Send("GET /held HTTP/1.1\r\n\r\n"));
  HttpReply late = held.get_future().get();
  ASSERT_TRUE(slow.Send("GET /slow HTTP/1.1\r\n\r\n"));
  sync_entered.get_future().wait();

  std::thread stopper([&] { server_->Stop(); });
  std::this_thread::sleep_for(100ms);  // Stop() is waiting for the running handler
  release_sync.set_value();
  stopper.join();

  auto r = slow.Read();
  ASSERT_TRUE(r) << "the running handler's response was not written";
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "finished\n");
  EXPECT_TRUE(slow.ClosedByPeer());
  late({200, "text/plain", "too late\n"});  // after Stop(): dropped, no crash
  EXPECT_FALSE(waiting.Read()) << "a reply after Stop() is dropped";
  Client after(port);
  EXPECT_FALSE(after.connected() && after.Get("/echo").has_value()) << "nothing listens after Stop()";
  server_->Stop();  // idempotent
  server_.reset();
  late({200, "text/plain", "after the server is gone\n"});  // still no crash
}

TEST(CreateHttpServerTest, RefusesBadPortsAndOptionsAndReportsABusyPort) {
  EXPECT_EQ(CreateHttpServer("127.0.0.1", 65536).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateHttpServer("127.0.0.1", -1).status().code(), absl::StatusCode::kInvalidArgument);
  HttpServerOptions zero_cap;
  zero_cap.max_connections = 0;
  EXPECT_EQ(CreateHttpServer("127.0.0.1", 0, zero_cap).status().code(), absl::StatusCode::kInvalidArgument);

  auto first = CreateHttpServer("127.0.0.1", 0);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE((*first)->Start().ok());
  auto second = CreateHttpServer("127.0.0.1", (*first)->port());
  ASSERT_TRUE(second.ok());
  absl::Status busy = (*second)->Start();
  EXPECT_EQ(busy.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(busy.message().find(absl::StrCat("127.0.0.1:", (*first)->port())), std::string::npos) << busy;
  EXPECT_EQ((*second)->port(), 0);
}

TEST(IsLoopbackAddressTest, KnowsTheLoopbackForms) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackAddress("127.9.8.7"));
  EXPECT_TRUE(IsLoopbackAddress("::1"));
  EXPECT_TRUE(IsLoopbackAddress("::ffff:127.0.0.1"));
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackAddress("::ffff:10.0.0.1"));
  EXPECT_FALSE(IsLoopbackAddress(""));
}

TEST(HttpServerIpv6Test, ReportsAnIpv6PeerAsText) {
  auto server = CreateHttpServer("::1", 0);
  ASSERT_TRUE(server.ok());
  (*server)->Handle("/echo", Echo);
  if (!(*server)->Start().ok()) GTEST_SKIP() << "no IPv6 loopback here";
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(static_cast<uint16_t>((*server)->port()));
  addr.sin6_addr = in6addr_loopback;
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  std::string request = "GET /echo HTTP/1.1\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
  std::string all;
  char buf[4096];
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;) all.append(buf, static_cast<size_t>(n));
  close(fd);
  EXPECT_NE(all.find("remote=::1\n"), std::string::npos) << all;
}

TEST(HttpServerIpv6Test, ReportsAnIpv4PeerOfADualStackSocketAsMapped) {
  auto server = CreateHttpServer("::ffff:127.0.0.1", 0);  // an IPv6 socket that IPv4 clients reach
  ASSERT_TRUE(server.ok());
  (*server)->Handle("/echo", Echo);
  if (!(*server)->Start().ok()) GTEST_SKIP() << "no IPv6 here";
  Client client((*server)->port());  // IPv4 127.0.0.1
  auto r = client.Get("/echo");
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("remote=::ffff:127.0.0.1\n"), std::string::npos) << r->body;
  EXPECT_TRUE(IsLoopbackAddress("::ffff:127.0.0.1"));
}

}  // namespace
}  // namespace keel::http
