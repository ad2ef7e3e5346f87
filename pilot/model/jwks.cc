#include "pilot/model/jwks.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace keel::pilot::model {
namespace {

absl::Status CheckKey(const google::protobuf::Value& key, const std::string& where) {
  if (!key.has_struct_value()) return absl::InvalidArgumentError(absl::StrCat(where, " is not an object"));
  const auto& fields = key.struct_value().fields();
  auto kty = fields.find("kty");
  if (kty == fields.end() || !kty->second.has_string_value() || kty->second.string_value().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " has no \"kty\""));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckJwks(absl::string_view json) {
  google::protobuf::Value doc;
  if (auto st = google::protobuf::util::JsonStringToMessage(std::string(json), &doc); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("not JSON: ", std::string(st.message())));
  }
  if (!doc.has_struct_value()) return absl::InvalidArgumentError("not a JSON object");
  const auto& fields = doc.struct_value().fields();
  auto keys = fields.find("keys");
  if (keys == fields.end()) return CheckKey(doc, "the key");
  if (!keys->second.has_list_value()) return absl::InvalidArgumentError("\"keys\" is not a list");
  const auto& list = keys->second.list_value().values();
  for (int i = 0; i < list.size(); ++i) {
    if (auto st = CheckKey(list[i], absl::StrCat("keys[", i, "]")); !st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status CheckJwksUri(absl::string_view uri) {
  const std::string lower = absl::AsciiStrToLower(uri);
  size_t scheme_end = 0;
  if (absl::StartsWith(lower, "https://")) {
    scheme_end = 8;
  } else if (absl::StartsWith(lower, "http://")) {
    scheme_end = 7;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("\"", uri, "\" is not an http or https URL"));
  }
  const absl::string_view rest = uri.substr(scheme_end);
  const absl::string_view host = rest.substr(0, rest.find_first_of("/?#"));
  if (host.empty() || absl::StartsWith(host, ":") || absl::StrContains(host, " ")) {
    return absl::InvalidArgumentError(absl::StrCat("\"", uri, "\" has no host"));
  }
  return absl::OkStatus();
}

// istiod's PublicOnlyJwks (pilot/pkg/model/jwks_resolver.go), byte for byte, so
// that both serve the same filter for a key set they could not fetch.
const char kPublicOnlyJwks[] = R"({
  "keys": [
    {
      "kty": "RSA",
      "e": "AQAB",
      "n": "0xObjM0UvS_oaazjpEYlAbwctEJ4L8pH3OuTb7qth7gUwqet-EzQB4dgFdvSdMgrLnSncQGRjpEYz3F3viIbH-3EN3TxSlPNviHxeOdyiBVfumN8dMxbLvVJUpfNOnvmMxJcl-8NNjAwcOjk4otSALaYgYYyOPyvKtgVdrQr-FoubWX4yrjxW-MJ2-7OBeepUUNOsVwGV23YX03sVkkyvY3otRflkBcY3_HKpBxJl9wk2GyOShN4_PNUF9-vwfnvOXMbCDX-w4PTef4geeb_GiT40YCKHTKMSPVanGRn5GExIWmki-mmqh94-mPTJyBR74ShspL3BxPZitDL574T1w"
    }
  ]
})";

}  // namespace keel::pilot::model
