#include "pilot/config/go_duration.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace keel::pilot::config {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Value;

bool UnitNanos(const std::string& s, size_t* i, double* nanos) {
  static const std::pair<const char*, double> kUnits[] = {
      {"ns", 1}, {"us", 1e3}, {"\xC2\xB5s", 1e3}, {"\xCE\xBCs", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
  for (const auto& [unit, n] : kUnits) {
    size_t len = std::char_traits<char>::length(unit);
    // Longest match first matters for "ms" vs "m": "ms" is listed before "m".
    if (s.compare(*i, len, unit) == 0) {
      *i += len;
      *nanos = n;
      return true;
    }
  }
  return false;
}

// The field JSON calls `name` (its json_name, or its proto name, as protobuf's
// JSON parser accepts both).
const FieldDescriptor* FieldByJsonName(const Descriptor* d, const std::string& name) {
  for (int i = 0; i < d->field_count(); ++i) {
    if (d->field(i)->json_name() == name || d->field(i)->name() == name) return d->field(i);
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<std::string> GoDurationToProtoJson(const std::string& go) {
  auto bad = [&] { return absl::InvalidArgumentError(absl::StrCat("invalid duration \"", go, "\"")); };
  size_t i = 0;
  bool negative = false;
  if (i < go.size() && (go[i] == '-' || go[i] == '+')) negative = go[i++] == '-';
  if (go.substr(i) == "0") return std::string("0s");
  if (i >= go.size()) return bad();
  long double total = 0;
  while (i < go.size()) {
    size_t start = i;
    while (i < go.size() && (isdigit(static_cast<unsigned char>(go[i])) || go[i] == '.')) ++i;
    if (i == start) return bad();
    char* end = nullptr;
    std::string number = go.substr(start, i - start);
    long double v = std::strtold(number.c_str(), &end);
    if (*end != '\0') return bad();
    double unit = 0;
    if (!UnitNanos(go, &i, &unit)) return bad();
    total += v * unit;
  }
  if (total > 315576000000.0L * 1e9L) return bad();  // protobuf's Duration range
  // Seconds and nanoseconds apart: the range in nanoseconds (3.2e20) is beyond int64_t.
  int64_t seconds = static_cast<int64_t>(total / 1e9L);
  int64_t nanos = static_cast<int64_t>(total - static_cast<long double>(seconds) * 1e9L + 0.5L);
  if (nanos >= 1000000000) {
    ++seconds;
    nanos -= 1000000000;
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s%lld.%09llds", negative ? "-" : "", static_cast<long long>(seconds),
                static_cast<long long>(nanos));
  return std::string(buf);
}

void NormalizeDurations(const Descriptor* descriptor, Value* value) {
  if (!descriptor || value->kind_case() != Value::kStructValue) return;
  for (auto& [json_name, field_value] : *value->mutable_struct_value()->mutable_fields()) {
    const FieldDescriptor* field = FieldByJsonName(descriptor, json_name);
    if (!field || field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    const Descriptor* type = field->message_type();
    auto fix = [&](Value* v, const Descriptor* d) {
      if (d->full_name() == "google.protobuf.Duration" && v->kind_case() == Value::kStringValue) {
        auto converted = GoDurationToProtoJson(v->string_value());
        if (converted.ok()) v->set_string_value(*converted);
      } else {
        NormalizeDurations(d, v);
      }
    };
    if (field->is_map()) {
      const FieldDescriptor* map_value = type->FindFieldByName("value");
      if (map_value->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || !field_value.has_struct_value()) continue;
      for (auto& [k, v] : *field_value.mutable_struct_value()->mutable_fields()) fix(&v, map_value->message_type());
    } else if (field->is_repeated()) {
      if (!field_value.has_list_value()) continue;
      for (auto& v : *field_value.mutable_list_value()->mutable_values()) fix(&v, type);
    } else {
      fix(&field_value, type);
    }
  }
}

}  // namespace keel::pilot::config
