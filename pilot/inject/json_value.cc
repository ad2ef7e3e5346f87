#include "pilot/inject/json_value.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <vector>

#include <google/protobuf/util/json_util.h>

#include "pkg/yaml/yaml_json.h"

#include "absl/strings/str_cat.h"

namespace keel::pilot::inject {

JsonValue Str(absl::string_view s) {
  JsonValue v;
  v.set_string_value(std::string(s));
  return v;
}

JsonValue Num(double n) {
  JsonValue v;
  v.set_number_value(n);
  return v;
}

JsonValue Bool(bool b) {
  JsonValue v;
  v.set_bool_value(b);
  return v;
}

JsonValue Obj(std::initializer_list<std::pair<std::string, JsonValue>> members) {
  JsonValue v;
  auto& fields = *v.mutable_struct_value()->mutable_fields();
  for (const auto& [key, value] : members) fields[key] = value;
  return v;
}

JsonValue Obj(JsonObject object) {
  JsonValue v;
  *v.mutable_struct_value() = std::move(object);
  return v;
}

JsonValue List(std::initializer_list<JsonValue> items) {
  JsonValue v;
  auto* list = v.mutable_list_value();
  for (const auto& item : items) *list->add_values() = item;
  return v;
}

JsonValue List(JsonList list) {
  JsonValue v;
  *v.mutable_list_value() = std::move(list);
  return v;
}

const JsonValue* Member(const JsonObject& object, absl::string_view key) {
  auto it = object.fields().find(std::string(key));
  return it == object.fields().end() ? nullptr : &it->second;
}

const JsonObject& ObjectAt(const JsonObject& object, absl::string_view key) {
  const JsonValue* v = Member(object, key);
  return v != nullptr && v->has_struct_value() ? v->struct_value() : JsonObject::default_instance();
}

const JsonList& ListAt(const JsonObject& object, absl::string_view key) {
  const JsonValue* v = Member(object, key);
  return v != nullptr && v->has_list_value() ? v->list_value() : JsonList::default_instance();
}

std::string StringAt(const JsonObject& object, absl::string_view key) {
  const JsonValue* v = Member(object, key);
  return v != nullptr && v->kind_case() == JsonValue::kStringValue ? v->string_value() : "";
}

std::map<std::string, std::string> StringMapAt(const JsonObject& object, absl::string_view key) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : ObjectAt(object, key).fields()) {
    if (v.kind_case() == JsonValue::kStringValue) out[k] = v.string_value();
  }
  return out;
}

JsonValue StringMap(const std::map<std::string, std::string>& map) {
  JsonValue v;
  auto& fields = *v.mutable_struct_value()->mutable_fields();
  for (const auto& [key, value] : map) fields[key] = Str(value);
  return v;
}

absl::StatusOr<JsonObject> ParseObject(absl::string_view text) {
  JsonObject out;
  auto status = google::protobuf::util::JsonStringToMessage(std::string(text), &out);
  if (!status.ok()) return absl::InvalidArgumentError(absl::StrCat("not a JSON object: ", std::string(status.message())));
  return out;
}

namespace {

void AppendNumber(double n, std::string& out) {
  if (std::isfinite(n) && n == std::trunc(n) && std::fabs(n) < 1e15) {
    absl::StrAppend(&out, static_cast<int64_t>(n));
  } else if (std::isfinite(n)) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.17g", n);
    out += buf;
  } else {
    out += "null";  // JSON has no NaN or infinity
  }
}

// Member ranks: a key listed in `order` comes before any other, in list order.
using KeyRanks = std::map<std::string, size_t>;

void Append(const JsonValue& value, const KeyRanks& ranks, std::string& out);

void Append(const JsonObject& object, const KeyRanks& ranks, std::string& out) {
  std::vector<const std::string*> keys;
  keys.reserve(object.fields().size());
  for (const auto& [key, unused] : object.fields()) keys.push_back(&key);
  auto rank = [&ranks](const std::string& key) {
    auto it = ranks.find(key);
    return it == ranks.end() ? ranks.size() : it->second;
  };
  std::sort(keys.begin(), keys.end(), [&rank](const std::string* a, const std::string* b) {
    return std::make_pair(rank(*a), *a) < std::make_pair(rank(*b), *b);
  });
  out += '{';
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) out += ',';
    absl::StrAppend(&out, "\"", keel::yaml::JsonEscape(*keys[i]), "\":");
    Append(object.fields().at(*keys[i]), ranks, out);
  }
  out += '}';
}

void Append(const JsonValue& value, const KeyRanks& ranks, std::string& out) {
  switch (value.kind_case()) {
    case JsonValue::kStringValue: absl::StrAppend(&out, "\"", keel::yaml::JsonEscape(value.string_value()), "\""); break;
    case JsonValue::kNumberValue: AppendNumber(value.number_value(), out); break;
    case JsonValue::kBoolValue: out += value.bool_value() ? "true" : "false"; break;
    case JsonValue::kStructValue: Append(value.struct_value(), ranks, out); break;
    case JsonValue::kListValue:
      out += '[';
      for (int i = 0; i < value.list_value().values_size(); ++i) {
        if (i > 0) out += ',';
        Append(value.list_value().values(i), ranks, out);
      }
      out += ']';
      break;
    default: out += "null"; break;
  }
}

}  // namespace

std::string ToJson(const JsonValue& value) {
  std::string out;
  Append(value, KeyRanks(), out);
  return out;
}

std::string ToJson(const JsonObject& object) {
  std::string out;
  Append(object, KeyRanks(), out);
  return out;
}

std::string ToJsonInOrder(const JsonObject& object, const std::vector<std::string>& order) {
  KeyRanks ranks;
  for (size_t i = 0; i < order.size(); ++i) ranks.emplace(order[i], i);
  std::string out;
  Append(object, ranks, out);
  return out;
}

absl::StatusOr<JsonObject> ParseYamlObject(absl::string_view text) {
  auto documents = keel::yaml::YamlToJson(text);
  if (!documents.ok()) return documents.status();
  if (documents->size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("want one YAML or JSON document, got ", documents->size()));
  }
  return ParseObject((*documents)[0].json);
}

}  // namespace keel::pilot::inject
