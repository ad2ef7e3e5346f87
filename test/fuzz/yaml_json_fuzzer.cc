// libFuzzer target: arbitrary text through keel::yaml::YamlToJson, what every
// --config-dir file goes through. Besides not crashing (ASan, UBSan, stack
// depth), the contract checked is the header's: an error says where, and each
// document is non-empty JSON with a 1-based line and increasing indexes.
#include <cstdint>
#include <cstdlib>
#include <cstdio>

#include "pkg/yaml/yaml_json.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "yaml_json_fuzzer: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto docs = keel::yaml::YamlToJson(text);
  if (!docs.ok()) {
    if (!absl::IsInvalidArgument(docs.status())) Fail("an error other than InvalidArgument");
    if (docs.status().message().empty()) Fail("an error without a message");
    return 0;
  }
  int last_index = -1;
  for (const auto& doc : *docs) {
    if (doc.json.empty()) Fail("an empty JSON document");
    if (doc.line < 1) Fail("a document line below 1");
    if (doc.index <= last_index) Fail("document indexes not increasing");
    last_index = doc.index;
  }
  return 0;
}
