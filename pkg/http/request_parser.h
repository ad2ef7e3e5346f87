// Parsing of an HTTP/1.x request head (RFC 9112), for the bounded server. Pure
// functions over bytes already received; no I/O.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "pkg/http/http_server.h"

namespace keel::http::internal {

// A request the server refuses, with the status to answer and a reason for the body.
struct RequestError {
  int status;
  std::string reason;
};

// What the head says about the rest of the exchange.
struct RequestHead {
  HttpRequest request;     // remote_address is left empty
  int minor_version = 1;   // HTTP/1.0 or HTTP/1.1
  bool keep_alive = true;  // 1.1 unless "Connection: close"; 1.0 only with "Connection: keep-alive"
  size_t content_length = 0;
};

// The length of the head in `buffer` including its terminating empty line
// (CRLF CRLF, or bare LF LF), after any empty lines that precede the request
// line; std::nullopt while the head is incomplete. `*skipped` gets the number of
// leading empty-line bytes (RFC 9112 2.2 says to ignore them).
std::optional<size_t> FindHeadEnd(absl::string_view buffer, size_t* skipped);

// Checks what has arrived of a head so far, so that garbage is refused at its
// first line rather than after max_header_bytes. An error: 400 (not a method
// token, a request line without a version) or 505 (a version other than 1.x).
std::optional<RequestError> CheckPartialHead(absl::string_view buffer);

// Parses a complete head (without the leading empty lines; the terminating empty
// line may be included). Errors: 400 malformed request line, header field,
// percent-encoding or Content-Length; 505 version; 411 chunked body; 501 other
// Transfer-Encoding.
struct ParseResult {
  std::optional<RequestHead> head;
  std::optional<RequestError> error;
};
ParseResult ParseHead(absl::string_view head);

// Percent-decodes `text` ('+' stays unless plus_is_space). False on a bad escape.
bool PercentDecode(absl::string_view text, bool plus_is_space, std::string* out);

// "a=1&b=%20x&c" -> {a:1, b:" x", c:""}. False on a bad escape.
bool DecodeQuery(absl::string_view raw, std::map<std::string, std::string>* out);

}  // namespace keel::http::internal
