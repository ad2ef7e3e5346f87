// Converts YAML (possibly multi-document) to JSON text, the input format of
// protobuf's JSON parser. yaml-cpp throws; this adapter does not, and it is
// meant for untrusted input (a --config-dir file): every input either converts
// within YamlLimits or is refused with an InvalidArgument naming the line.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace keel::yaml {

// One YAML document converted to JSON, with where it started in the input.
struct JsonDocument {
  int index = 0;  // 0-based position among the documents of the input
  int line = 0;   // 1-based line of the document's first node
  std::string json;
};

// Bounds on one call of YamlToJson (all documents of the input together).
struct YamlLimits {
  size_t max_input_bytes = 8 << 20;  // larger inputs are refused unread
  int max_depth = 100;               // nested sequences/maps; bounds the YAML parser itself (config objects
                                     // are held to 32 levels later, by pkg/kube/object_decoder)
  // Nodes that aliases copy in: `*a` of an anchored node of N nodes adds N.
  // Bounds "billion laughs" (aliases of aliases of ...), as go-yaml does.
  size_t max_alias_nodes = 100000;
  size_t max_json_bytes = 64 << 20;  // JSON produced, aliases expanded, plus the copies anchors keep
};

// Parses every document of `text`. Empty documents (e.g. between two `---`) are
// skipped. Plain (unquoted) scalars that read as YAML 1.2 core-schema ints,
// floats, booleans or null (core_schema.h) become JSON numbers, booleans or
// null; every other scalar, and every quoted or tagged one, becomes a JSON
// string. Map keys must be scalars. Aliases are expanded in place.
// Errors: InvalidArgument "line L, column C: <what>": YAML syntax (yaml-cpp's
// message), an alias to the node that contains it (a cycle), a key that is a
// sequence or map, a number too large for a double, or a limit exceeded.
absl::StatusOr<std::vector<JsonDocument>> YamlToJson(absl::string_view text, const YamlLimits& limits = {});

// Escapes `s` as the body of a JSON string literal (no surrounding quotes).
std::string JsonEscape(absl::string_view s);

}  // namespace keel::yaml
