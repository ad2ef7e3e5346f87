#include "pilot/inject/quantity.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace keel::pilot::inject {
namespace {

using Int = __int128;

enum class Format { kDecimalSI, kBinarySI, kDecimalExponent };

Int Pow(Int base, int n) {
  Int r = 1;
  while (n-- > 0) r *= base;
  return r;
}

std::string ToString(Int v) {
  if (v == 0) return "0";
  const bool negative = v < 0;
  if (negative) v = -v;
  std::string digits;
  while (v > 0) {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  return negative ? "-" + digits : digits;
}

constexpr int kNanoDigits = 9;

// `nano` times 10^exponent, rounded up (Kubernetes never rounds a quantity down).
Int Scale(Int nano, int exponent) {
  if (exponent >= 0) return nano * Pow(10, exponent);
  const Int d = Pow(10, -exponent);
  return (nano + d - 1) / d;
}

}  // namespace

std::optional<std::string> CanonicalQuantity(absl::string_view text) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  size_t i = 0;
  Int whole = 0, frac = 0;
  int frac_digits = 0;
  bool any_digit = false;
  for (; i < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[i])); ++i) {
    whole = whole * 10 + (s[i] - '0');
    any_digit = true;
    if (whole > Pow(10, 20)) return std::nullopt;
  }
  if (i < s.size() && s[i] == '.') {
    for (++i; i < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[i])); ++i) {
      any_digit = true;
      if (frac_digits < kNanoDigits) {
        frac = frac * 10 + (s[i] - '0');
        ++frac_digits;
      } else if (s[i] != '0') {
        frac += 1;  // Kubernetes rounds up below nano
      }
    }
  }
  if (!any_digit) return std::nullopt;
  // The value in units of 10^-9.
  Int nano = whole * Pow(10, kNanoDigits) + frac * Pow(10, kNanoDigits - frac_digits);
  const absl::string_view suffix = s.substr(i);
  Format format = Format::kDecimalSI;
  static const std::vector<std::pair<absl::string_view, int>> kBinary = {
      {"Ki", 1}, {"Mi", 2}, {"Gi", 3}, {"Ti", 4}, {"Pi", 5}, {"Ei", 6}};
  static const std::vector<std::pair<absl::string_view, int>> kDecimal = {
      {"n", -9}, {"u", -6}, {"m", -3}, {"", 0}, {"k", 3}, {"M", 6}, {"G", 9}, {"T", 12}, {"P", 15}, {"E", 18}};
  bool known = false;
  for (const auto& [name, power] : kBinary) {
    if (suffix == name) {
      nano *= Pow(1024, power);
      format = Format::kBinarySI;
      known = true;
    }
  }
  for (const auto& [name, exponent] : kDecimal) {
    if (known || suffix != name) continue;
    nano = Scale(nano, exponent);
    known = true;
  }
  if (!known && !suffix.empty() && (suffix[0] == 'e' || suffix[0] == 'E')) {
    int exponent = 0;
    if (!absl::SimpleAtoi(suffix.substr(1), &exponent) || exponent > 18 || exponent < -9) return std::nullopt;
    nano = Scale(nano, exponent);
    format = Format::kDecimalExponent;
    known = true;
  }
  if (!known) return std::nullopt;
  if (negative) nano = -nano;
  const Int one = Pow(10, kNanoDigits);
  if (format == Format::kBinarySI) {
    const Int units = nano < 0 ? -nano : nano;
    if (units < 1024 * one || nano % one != 0) {
      format = Format::kDecimalSI;
    } else {
      Int n = nano / one;
      int k = 0;
      while (k < 6 && n % 1024 == 0) {
        n /= 1024;
        ++k;
      }
      return ToString(n) + (k == 0 ? std::string() : std::string(kBinary[k - 1].first));
    }
  }
  if (nano == 0) return std::string("0");
  // The largest exponent, a multiple of 3 from -9, that keeps the mantissa whole.
  int exponent = -9;
  Int mantissa = nano;
  while (exponent < 18 && mantissa % 1000 == 0) {
    mantissa /= 1000;
    exponent += 3;
  }
  if (format == Format::kDecimalExponent) {
    return exponent == 0 ? ToString(mantissa) : absl::StrCat(ToString(mantissa), "e", exponent);
  }
  for (const auto& [name, e] : kDecimal) {
    if (e == exponent) return ToString(mantissa) + std::string(name);
  }
  return std::nullopt;
}

}  // namespace keel::pilot::inject
