// Raw HTTP/1.1 test clients of the bounded server (http_server_test,
// https_server_test): what they send is exactly what the test writes, and every
// read gives up after 5 s.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace keel::http {

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
};

// Requests and responses over some byte stream (TCP, TLS).
class HttpTestClient {
 public:
  virtual ~HttpTestClient() = default;

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = SendSome(data.data(), data.size());
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // One response (its body per Content-Length; none for HEAD); nullopt if the
  // connection ends first or nothing comes within 5 s.
  std::optional<Response> Read(bool head_request = false) {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    Response r;
    std::vector<std::string> lines = absl::StrSplit(buf_.substr(0, end), "\r\n");
    std::vector<std::string> status_line = absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
    if (status_line.size() < 2 || !absl::SimpleAtoi(status_line[1], &r.status)) return std::nullopt;
    for (size_t i = 1; i < lines.size(); ++i) {
      size_t colon = lines[i].find(':');
      r.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    }
    buf_.erase(0, end + 4);
    size_t length = 0;
    if (!head_request && r.headers.count("content-length")) {
      if (!absl::SimpleAtoi(r.headers["content-length"], &length)) return std::nullopt;
    }
    while (buf_.size() < length) {
      if (!Fill()) return std::nullopt;
    }
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }

  std::optional<Response> Get(const std::string& target, const std::string& extra_headers = "") {
    if (!Send(absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: test\r\n", extra_headers, "\r\n"))) return std::nullopt;
    return Read();
  }

  std::optional<Response> Post(const std::string& target, const std::string& body,
                               const std::string& extra_headers = "") {
    if (!Send(absl::StrCat("POST ", target, " HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n",
                           "Content-Length: ", body.size(), "\r\n", extra_headers, "\r\n", body))) {
      return std::nullopt;
    }
    return Read();
  }

 protected:
  // > 0: bytes moved; <= 0: the stream ended, failed or timed out.
  virtual ssize_t SendSome(const char* data, size_t size) = 0;
  virtual ssize_t RecvSome(char* buffer, size_t size) = 0;

 private:
  bool Fill() {
    char chunk[4096];
    ssize_t n = RecvSome(chunk, sizeof(chunk));
    if (n <= 0) return false;
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  std::string buf_;
};

// Plain TCP to 127.0.0.1:port, with 5 s send and receive timeouts.
class Client : public HttpTestClient {
 public:
  explicit Client(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }
  ~Client() override { close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }
  int fd() const { return fd_; }

  // True if the server closes the connection (EOF or reset) within 5 s, with
  // nothing more to read before that.
  bool ClosedByPeer() {
    char c;
    ssize_t n = recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

 protected:
  ssize_t SendSome(const char* data, size_t size) override { return send(fd_, data, size, MSG_NOSIGNAL); }
  ssize_t RecvSome(char* buffer, size_t size) override { return recv(fd_, buffer, size, 0); }

 private:
  int fd_;
  bool connected_ = false;
};

}  // namespace keel::http
