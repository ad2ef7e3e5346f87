#include "pkg/http/request_parser.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace keel::http::internal {
namespace {

constexpr size_t kMaxMethodLength = 32;

// RFC 9110 5.6.2 tchar.
bool IsTokenChar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool IsToken(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

absl::string_view StripCr(absl::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

absl::string_view TrimOws(absl::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

RequestError BadRequest(std::string reason) { return {400, std::move(reason)}; }

// "HTTP/1.0" -> 0, "HTTP/1.1" -> 1; -1 for another well-formed version, -2 for garbage.
int MinorVersion(absl::string_view version) {
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      !absl::ascii_isdigit(static_cast<unsigned char>(version[5])) ||
      !absl::ascii_isdigit(static_cast<unsigned char>(version[7]))) {
    return -2;
  }
  if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) return -1;
  return version[7] - '0';
}

// Checks "METHOD SP TARGET SP VERSION" and splits it.
std::optional<RequestError> SplitRequestLine(absl::string_view line, absl::string_view* method,
                                             absl::string_view* target, int* minor) {
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == absl::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == absl::string_view::npos || line.find(' ', sp2 + 1) != absl::string_view::npos) {
    return BadRequest("malformed request line (want METHOD SP TARGET SP HTTP/1.x)");
  }
  *method = line.substr(0, sp1);
  *target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!IsToken(*method) || method->size() > kMaxMethodLength) return BadRequest("malformed request method");
  if (target->empty()) return BadRequest("empty request target");
  for (char c : *target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return BadRequest("control character in the request target");
  }
  *minor = MinorVersion(line.substr(sp2 + 1));
  if (*minor == -2) return BadRequest("malformed HTTP version in the request line");
  if (*minor == -1) return RequestError{505, "only HTTP/1.0 and HTTP/1.1 are supported"};
  return std::nullopt;
}

// Origin form "/p?q", or absolute form "http://host/p?q" (whose authority is dropped).
std::optional<RequestError> SplitTarget(absl::string_view target, HttpRequest* request) {
  if (auto hash = target.find('#'); hash != absl::string_view::npos) target = target.substr(0, hash);
  if (target.front() != '/') {
    size_t scheme = target.find("://");
    if (scheme == absl::string_view::npos) return BadRequest("request target is neither /path nor an absolute URI");
    size_t slash = target.find('/', scheme + 3);
    target = slash == absl::string_view::npos ? absl::string_view("/") : target.substr(slash);
  }
  size_t question = target.find('?');
  if (!PercentDecode(target.substr(0, question), /*plus_is_space=*/false, &request->path)) {
    return BadRequest("malformed percent-encoding in the request path");
  }
  if (question != absl::string_view::npos && !DecodeQuery(target.substr(question + 1), &request->query)) {
    return BadRequest("malformed percent-encoding in the query string");
  }
  return std::nullopt;
}

}  // namespace

std::optional<size_t> FindHeadEnd(absl::string_view buffer, size_t* skipped) {
  size_t start = 0;
  while (start < buffer.size() && (buffer[start] == '\r' || buffer[start] == '\n')) ++start;
  *skipped = start;
  for (size_t nl = buffer.find('\n', start); nl != absl::string_view::npos; nl = buffer.find('\n', nl + 1)) {
    size_t next = nl + 1;
    if (next < buffer.size() && buffer[next] == '\n') return next + 1 - start;
    if (next + 1 < buffer.size() && buffer[next] == '\r' && buffer[next + 1] == '\n') return next + 2 - start;
  }
  return std::nullopt;
}

std::optional<RequestError> CheckPartialHead(absl::string_view buffer) {
  while (!buffer.empty() && (buffer.front() == '\r' || buffer.front() == '\n')) buffer.remove_prefix(1);
  size_t nl = buffer.find('\n');
  absl::string_view first = nl == absl::string_view::npos ? buffer : StripCr(buffer.substr(0, nl));
  size_t sp = first.find(' ');
  absl::string_view method = first.substr(0, sp);
  for (char c : method) {
    if (!IsTokenChar(c)) return BadRequest("malformed request method");
  }
  if (method.size() > kMaxMethodLength) return BadRequest("malformed request method");
  if (nl == absl::string_view::npos) return std::nullopt;
  absl::string_view m, target;
  int minor = 0;
  return SplitRequestLine(first, &m, &target, &minor);
}

ParseResult ParseHead(absl::string_view head) {
  std::vector<absl::string_view> lines = absl::StrSplit(head, '\n');
  while (!lines.empty() && StripCr(lines.back()).empty()) lines.pop_back();
  if (lines.empty()) return {std::nullopt, BadRequest("empty request")};

  RequestHead out;
  absl::string_view method, target;
  if (auto error = SplitRequestLine(StripCr(lines[0]), &method, &target, &out.minor_version)) {
    return {std::nullopt, std::move(error)};
  }
  out.request.method = std::string(method);
  if (auto error = SplitTarget(target, &out.request)) return {std::nullopt, std::move(error)};

  for (size_t i = 1; i < lines.size(); ++i) {
    absl::string_view line = StripCr(lines[i]);
    if (line.empty()) return {std::nullopt, BadRequest("empty line inside the header")};
    if (line.front() == ' ' || line.front() == '\t') {
      return {std::nullopt, BadRequest("obsolete line folding in a header field")};
    }
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos || !IsToken(line.substr(0, colon))) {
      return {std::nullopt, BadRequest(absl::StrCat("malformed header field on line ", i + 1))};
    }
    std::string name = absl::AsciiStrToLower(line.substr(0, colon));
    absl::string_view value = TrimOws(line.substr(colon + 1));
    for (char c : value) {
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
        return {std::nullopt, BadRequest(absl::StrCat("control character in header field ", name))};
      }
    }
    auto [it, inserted] = out.request.headers.emplace(name, value);
    if (!inserted) absl::StrAppend(&it->second, ", ", value);
  }

  const auto& headers = out.request.headers;
  if (auto te = headers.find("transfer-encoding"); te != headers.end()) {
    if (headers.count("content-length")) {
      return {std::nullopt, BadRequest("both Transfer-Encoding and Content-Length")};
    }
    if (absl::AsciiStrToLower(te->second) == "chunked") {
      return {std::nullopt, RequestError{411, "chunked request bodies are not accepted; send Content-Length"}};
    }
    return {std::nullopt, RequestError{501, absl::StrCat("Transfer-Encoding \"", te->second, "\" is not supported")}};
  }
  if (auto cl = headers.find("content-length"); cl != headers.end()) {
    // "5, 5" (a repeated field) is one length; differing values are refused.
    absl::string_view first;
    for (absl::string_view part : absl::StrSplit(cl->second, ',')) {
      part = TrimOws(part);
      uint64_t n = 0;
      bool digits = !part.empty() && part.size() <= 19;
      for (char c : part) digits = digits && absl::ascii_isdigit(static_cast<unsigned char>(c));
      if (!digits || !absl::SimpleAtoi(part, &n)) return {std::nullopt, BadRequest("malformed Content-Length")};
      if (!first.empty() && part != first) return {std::nullopt, BadRequest("conflicting Content-Length values")};
      first = part;
      out.content_length = n;
    }
  }
  std::string connection;
  if (auto c = headers.find("connection"); c != headers.end()) connection = absl::AsciiStrToLower(c->second);
  bool says_close = false, says_keep_alive = false;
  for (absl::string_view option : absl::StrSplit(connection, ',')) {
    option = TrimOws(option);
    says_close = says_close || option == "close";
    says_keep_alive = says_keep_alive || option == "keep-alive";
  }
  out.keep_alive = out.minor_version == 1 ? !says_close : (says_keep_alive && !says_close);
  return {std::move(out), std::nullopt};
}

bool PercentDecode(absl::string_view text, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return false;
      int hi = HexValue(text[i + 1]), lo = HexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

bool DecodeQuery(absl::string_view raw, std::map<std::string, std::string>* out) {
  for (absl::string_view pair : absl::StrSplit(raw, '&')) {
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key, value;
    if (!PercentDecode(pair.substr(0, eq), /*plus_is_space=*/false, &key)) return false;
    if (eq != absl::string_view::npos &&
        !PercentDecode(pair.substr(eq + 1), /*plus_is_space=*/true, &value)) {
      return false;
    }
    (*out)[key] = std::move(value);
  }
  return true;
}

}  // namespace keel::http::internal
