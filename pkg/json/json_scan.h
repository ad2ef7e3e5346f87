// Walks JSON text without building a tree and without recursion: finds the
// members of an object and the elements of an array as slices of the input, so
// a caller can decode each part on its own (one object of a Kubernetes list, say)
// and one part that does not decode cannot fail the others. Nesting depth costs
// memory linear in the depth, never stack.
//
// The scan checks structure (brackets, strings, commas and colons), not the
// grammar of numbers and literals: a slice it returns is handed to a real JSON
// parser, which does.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace keel::json {

struct Member {
  std::string key;           // decoded
  absl::string_view raw_key; // as written, quotes included
  absl::string_view value;   // the value's text, surrounding whitespace excluded
};

// Calls `fn` for each member of the object `text` (whitespace around it is
// allowed), in order. Stops at and returns the first error of `fn`.
// Errors: InvalidArgument when `text` is not one well-formed object.
absl::Status ForEachMember(absl::string_view text, const std::function<absl::Status(const Member&)>& fn);

// The same for the elements of the array `text`.
absl::Status ForEachElement(absl::string_view text, const std::function<absl::Status(absl::string_view)>& fn);

// The decoded value of the JSON string `text` ("\"a\\nb\"" -> "a\nb"), or
// InvalidArgument when it is not a string.
absl::StatusOr<std::string> StringValue(absl::string_view text);

// How deeply arrays and objects nest in `text`, a well-formed value ("1" is 0,
// "[]" is 1, "{\"a\":[1]}" is 2).
int NestingDepth(absl::string_view text);

}  // namespace keel::json
