#define _TURN_OFF_PLATFORM_STRING  // cpprest's U() macro breaks fmt
#include "pkg/http/http_get.h"

#include <cpprest/rawptrstream.h>
#include <cpprest/http_client.h>

#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace keel::http {

absl::StatusOr<std::string> HttpGet(const std::string& url, const HttpGetOptions& options) {
  const std::string lower = absl::AsciiStrToLower(url);
  if (!absl::StartsWith(lower, "http://") && !absl::StartsWith(lower, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat("\"", url, "\" is not an http or https URL"));
  }
  try {
    web::http::client::http_client_config config;
    config.set_timeout(std::chrono::microseconds(absl::ToInt64Microseconds(options.timeout)));
    web::http::client::http_client client(web::uri(url), config);
    web::http::http_response response = client.request(web::http::methods::GET).get();
    if (response.headers().content_length() > options.max_body_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat("GET ", url, ": body of ", response.headers().content_length(),
                                                       " bytes is over the bound of ", options.max_body_bytes));
    }
    // Read at most one byte past the bound: a chunked body may not say its length.
    std::string text(options.max_body_bytes + 1, '\0');
    concurrency::streams::rawptr_buffer<uint8_t> buffer(reinterpret_cast<uint8_t*>(text.data()), text.size());
    auto body = response.body();
    size_t total = 0;
    while (total < text.size()) {
      const size_t n = body.read(buffer, text.size() - total).get();
      if (n == 0) break;
      total += n;
    }
    text.resize(total);
    if (text.size() > options.max_body_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("GET ", url, ": body is over the bound of ", options.max_body_bytes, " bytes"));
    }
    const int status = response.status_code();
    if (status < 200 || status >= 300) {
      return absl::FailedPreconditionError(
          absl::StrCat("GET ", url, ": status ", status, ": ", absl::CEscape(text.substr(0, 100))));
    }
    return text;
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("GET ", url, ": ", e.what()));
  }
}

}  // namespace keel::http
