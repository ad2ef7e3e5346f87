// Small helpers for building and reading JSON as google::protobuf::Value / Struct,
// the tree the injector works on (a Pod as the API server sends it). Numbers are
// doubles in this tree; Kubernetes' integers (ports, seconds) fit exactly.
#pragma once

#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/struct.pb.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace keel::pilot::inject {

using JsonValue = ::google::protobuf::Value;
using JsonObject = ::google::protobuf::Struct;
using JsonList = ::google::protobuf::ListValue;

JsonValue Str(absl::string_view s);
JsonValue Num(double n);
JsonValue Bool(bool b);
JsonValue Obj(std::initializer_list<std::pair<std::string, JsonValue>> members);
JsonValue Obj(JsonObject object);
JsonValue List(std::initializer_list<JsonValue> items);
JsonValue List(JsonList list);

// The member `key` of `object` when it is present, else nullptr.
const JsonValue* Member(const JsonObject& object, absl::string_view key);
// The object at `key` (an empty one when absent or not an object).
const JsonObject& ObjectAt(const JsonObject& object, absl::string_view key);
// The list at `key` (an empty one when absent or not a list).
const JsonList& ListAt(const JsonObject& object, absl::string_view key);
// The string at `key` ("" when absent or not a string).
std::string StringAt(const JsonObject& object, absl::string_view key);
// A string-to-string map at `key` (labels, annotations); non-string values are skipped.
std::map<std::string, std::string> StringMapAt(const JsonObject& object, absl::string_view key);
JsonValue StringMap(const std::map<std::string, std::string>& map);

// JSON text <-> tree. Errors: InvalidArgument naming what did not parse.
absl::StatusOr<JsonObject> ParseObject(absl::string_view text);
// One YAML (or JSON) document that is a mapping, as an annotation may hold it.
absl::StatusOr<JsonObject> ParseYamlObject(absl::string_view text);
// Compact JSON with object members in key order, so equal trees print equal text
// (protobuf's printer follows its map's order, which is not stable).
std::string ToJson(const JsonValue& value);
std::string ToJson(const JsonObject& object);
// The same, but members whose key is in `order` come first, in that order, at every
// level: text istiod writes by marshalling a Go struct has its fields' order.
std::string ToJsonInOrder(const JsonObject& object, const std::vector<std::string>& order);

}  // namespace keel::pilot::inject
