// How a plain (unquoted, untagged) YAML scalar reads under the YAML 1.2 core
// schema, restricted to what JSON can carry. Hand-written and linear in the
// scalar's length: no regex (std::regex recurses per character and overflowed
// the stack on a 40,000-digit scalar).
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace keel::yaml {

enum class PlainScalarType { kNull, kBool, kNumber, kString };

// null: "~", "null", "Null", "NULL", "" (the empty scalar).
// bool: "true", "True", "TRUE", "false", "False", "FALSE".
// number: [-+]?(0|[1-9][0-9]*)(\.[0-9]*)?([eE][-+]?[0-9]+)? - decimal only:
//   JSON has no hex, octal, ".5", ".inf" or ".nan", so those stay strings, and
//   so do leading zeros ("007", which JSON cannot write either).
// Everything else is a string.
PlainScalarType ClassifyPlainScalar(absl::string_view s);

// For a kBool scalar: its value.
bool PlainScalarBool(absl::string_view s);

// For a kNumber scalar: the JSON number text ("+5" -> "5", "1." -> "1.0",
// "2.E5" -> "2.0E5").
std::string NumberToJson(absl::string_view s);

// For a kNumber scalar: false when it is too large for a double (JSON parsers,
// protobuf's included, refuse it then), e.g. a 400-digit integer.
bool NumberFitsDouble(absl::string_view s);

}  // namespace keel::yaml
