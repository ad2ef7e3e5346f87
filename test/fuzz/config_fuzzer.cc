// libFuzzer target: arbitrary text as one Kubernetes/Istio JSON object through
// keel::pilot::config::ParseConfig (protobuf's JSON parser, the typed specs,
// duration normalization, validation), what the file source and the informers
// run on every object. Besides not crashing, the contract checked is the
// header's: errors are Unimplemented or InvalidArgument with a message, and a
// parsed object has a kind, a name and a body.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "pilot/config/config_parser.h"

namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "config_fuzzer: %s\n", what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  auto config = keel::pilot::config::ParseConfig(json, "fuzz.json#0");
  if (!config.ok()) {
    const absl::Status& st = config.status();
    if (!absl::IsInvalidArgument(st) && !absl::IsUnimplemented(st)) Fail("unexpected error code: " + st.ToString());
    if (st.message().empty()) Fail("an error without a message");
    return 0;
  }
  const keel::pilot::model::Config& c = **config;
  if (c.key.name.empty()) Fail("a parsed object without a name");
  if (!c.body) Fail("a parsed object without a body");
  if (c.meta.origin != "fuzz.json#0") Fail("origin not kept");
  return 0;
}
