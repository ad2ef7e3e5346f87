// One bounded HTTP GET, for documents Keel fetches from outside (the JWKS of a
// RequestAuthentication): cpprestsdk behind this header, and nothing leaves it
// but absl::Status.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace keel::http {

struct HttpGetOptions {
  absl::Duration timeout = absl::Seconds(5);  // the whole exchange
  size_t max_body_bytes = 1 << 20;            // a longer body is an error, read no further
};

// The body of a 2xx answer to GET `url` (http, or https verified against the
// system's trust roots). Errors: InvalidArgument (not an http(s) URL),
// Unavailable (connection, TLS, timeout), FailedPrecondition (a non-2xx status;
// the message holds it and the body's first 100 bytes), ResourceExhausted (the
// body is over max_body_bytes).
absl::StatusOr<std::string> HttpGet(const std::string& url, const HttpGetOptions& options = {});

}  // namespace keel::http
