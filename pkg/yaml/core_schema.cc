#include "pkg/yaml/core_schema.h"

#include <cmath>
#include <cstdlib>

namespace keel::yaml {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsDecimalNumber(absl::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
  if (i >= n || !IsDigit(s[i])) return false;
  if (s[i] == '0') {
    ++i;
  } else {
    while (i < n && IsDigit(s[i])) ++i;
  }
  if (i < n && s[i] == '.') {
    ++i;
    while (i < n && IsDigit(s[i])) ++i;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= n || !IsDigit(s[i])) return false;
    while (i < n && IsDigit(s[i])) ++i;
  }
  return i == n;
}

}  // namespace

PlainScalarType ClassifyPlainScalar(absl::string_view s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return PlainScalarType::kNull;
  if (s == "true" || s == "True" || s == "TRUE" || s == "false" || s == "False" || s == "FALSE") {
    return PlainScalarType::kBool;
  }
  if (IsDecimalNumber(s)) return PlainScalarType::kNumber;
  return PlainScalarType::kString;
}

bool PlainScalarBool(absl::string_view s) { return s[0] == 't' || s[0] == 'T'; }

std::string NumberToJson(absl::string_view s) {
  std::string out(s[0] == '+' ? s.substr(1) : s);
  const size_t dot = out.find('.');
  // "1." and "2.E5" are not JSON: a digit must follow the point.
  if (dot != std::string::npos && (dot + 1 == out.size() || !IsDigit(out[dot + 1]))) out.insert(dot + 1, "0");
  return out;
}

bool NumberFitsDouble(absl::string_view s) {
  const std::string text(s);  // strtod needs a terminator; linear, no recursion
  const double v = std::strtod(text.c_str(), nullptr);
  return std::isfinite(v);
}

}  // namespace keel::yaml
