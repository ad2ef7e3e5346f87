// Converts YAML (possibly multi-document) to JSON text, the input format of
// protobuf's JSON parser. yaml-cpp throws; this adapter does not.
#pragma once

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"

namespace keel::yaml {

// One YAML document converted to JSON, with where it started in the input.
struct JsonDocument {
  int index = 0;  // 0-based position among the documents of the input
  int line = 0;   // 1-based line of the document's first node
  std::string json;
};

// Parses every document of `text`. Empty documents (e.g. between two `---`) are
// skipped. Plain (unquoted) scalars that read as YAML 1.2 core-schema ints,
// floats, booleans or null become JSON numbers, booleans or null; every other
// scalar, and every quoted one, becomes a JSON string.
// Errors: InvalidArgument with "line L, column C: <yaml-cpp message>".
absl::StatusOr<std::vector<JsonDocument>> YamlToJson(absl::string_view text);

// Escapes `s` as the body of a JSON string literal (no surrounding quotes).
std::string JsonEscape(absl::string_view s);

}  // namespace keel::yaml
