#include "pkg/json/json_scan.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"

namespace keel::json {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// A literal or number: everything up to the next structural character.
bool IsTokenChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '+' ||
         c == '.';
}

class Cursor {
 public:
  explicit Cursor(absl::string_view text) : text_(text) {}

  void SkipSpace() {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
  }
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  size_t pos() const { return pos_; }
  void Advance() { ++pos_; }
  absl::string_view Slice(size_t from) const { return text_.substr(from, pos_ - from); }

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("malformed JSON at byte ", pos_, ": ", what));
  }

  absl::Status Expect(char c) {
    SkipSpace();
    if (Peek() != c) return Error(absl::StrCat("expected '", std::string(1, c), "'"));
    ++pos_;
    return absl::OkStatus();
  }

  // Skips one string, the cursor on its opening quote.
  absl::Status SkipString() {
    ++pos_;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '"') return absl::OkStatus();
      if (c == '\\') {
        if (pos_ >= text_.size()) break;
        ++pos_;
      }
    }
    return Error("unterminated string");
  }

  // Skips `"key":`.
  absl::Status SkipKey() {
    SkipSpace();
    if (Peek() != '"') return Error("expected a key");
    if (auto st = SkipString(); !st.ok()) return st;
    return Expect(':');
  }

  // Skips one value of any depth, iteratively.
  absl::Status SkipValue() {
    std::vector<char> open;  // the closing brackets still owed
    while (true) {
      // A value is expected here.
      SkipSpace();
      if (AtEnd()) return Error("unexpected end");
      const char c = Peek();
      if (c == '{' || c == '[') {
        ++pos_;
        const char close = c == '{' ? '}' : ']';
        SkipSpace();
        if (Peek() == close) {
          ++pos_;  // empty; a value ended
        } else {
          open.push_back(close);
          if (close == '}') {
            if (auto st = SkipKey(); !st.ok()) return st;
          }
          continue;
        }
      } else if (c == '"') {
        if (auto st = SkipString(); !st.ok()) return st;
      } else if (IsTokenChar(c)) {
        while (!AtEnd() && IsTokenChar(Peek())) ++pos_;
      } else {
        return Error(absl::StrCat("unexpected '", std::string(1, c), "'"));
      }
      // A value ended: close what it ends, or go on to the next element.
      while (true) {
        if (open.empty()) return absl::OkStatus();
        SkipSpace();
        const char n = Peek();
        if (n == open.back()) {
          ++pos_;
          open.pop_back();
          continue;
        }
        if (n != ',') return Error("expected ',' or a closing bracket");
        ++pos_;
        if (open.back() == '}') {
          if (auto st = SkipKey(); !st.ok()) return st;
        }
        break;
      }
    }
  }

 private:
  absl::string_view text_;
  size_t pos_ = 0;
};

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool Hex4(absl::string_view s, size_t at, uint32_t* out) {
  if (at + 4 > s.size()) return false;
  uint32_t v = 0;
  for (size_t i = at; i < at + 4; ++i) {
    const char c = s[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else return false;
  }
  *out = v;
  return true;
}

// Checks that `text` is one container opening with `open`, returning the cursor after it.
absl::Status OpenContainer(Cursor* cur, char open) {
  cur->SkipSpace();
  if (cur->Peek() != open) return cur->Error(open == '{' ? "not an object" : "not an array");
  cur->Advance();
  return absl::OkStatus();
}

absl::Status CloseContainer(Cursor* cur) {
  cur->SkipSpace();
  if (!cur->AtEnd()) return cur->Error("text after the value");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> StringValue(absl::string_view text) {
  size_t b = 0, e = text.size();
  while (b < e && IsSpace(text[b])) ++b;
  while (e > b && IsSpace(text[e - 1])) --e;
  if (e - b < 2 || text[b] != '"' || text[e - 1] != '"') return absl::InvalidArgumentError("not a JSON string");
  std::string out;
  for (size_t i = b + 1; i < e - 1; ++i) {
    const char c = text[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i >= e - 1) return absl::InvalidArgumentError("bad escape in a JSON string");
    switch (text[i]) {
      case '"': out.push_back('"'); break;
      case '\\': out.push_back('\\'); break;
      case '/': out.push_back('/'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        uint32_t cp = 0;
        if (!Hex4(text, i + 1, &cp)) return absl::InvalidArgumentError("bad \\u escape in a JSON string");
        i += 4;
        uint32_t low = 0;
        if (cp >= 0xD800 && cp < 0xDC00 && i + 2 < e && text[i + 1] == '\\' && text[i + 2] == 'u' &&
            Hex4(text, i + 3, &low) && low >= 0xDC00 && low < 0xE000) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          i += 6;
        }
        AppendUtf8(cp, &out);
        break;
      }
      default: return absl::InvalidArgumentError("bad escape in a JSON string");
    }
  }
  return out;
}

absl::Status ForEachMember(absl::string_view text, const std::function<absl::Status(const Member&)>& fn) {
  Cursor cur(text);
  if (auto st = OpenContainer(&cur, '{'); !st.ok()) return st;
  cur.SkipSpace();
  if (cur.Peek() == '}') {
    cur.Advance();
    return CloseContainer(&cur);
  }
  while (true) {
    cur.SkipSpace();
    if (cur.Peek() != '"') return cur.Error("expected a key");
    const size_t key_start = cur.pos();
    if (auto st = cur.SkipString(); !st.ok()) return st;
    Member m;
    m.raw_key = cur.Slice(key_start);
    auto key = StringValue(m.raw_key);
    if (!key.ok()) return key.status();
    m.key = std::move(*key);
    if (auto st = cur.Expect(':'); !st.ok()) return st;
    cur.SkipSpace();
    const size_t value_start = cur.pos();
    if (auto st = cur.SkipValue(); !st.ok()) return st;
    m.value = cur.Slice(value_start);
    if (auto st = fn(m); !st.ok()) return st;
    cur.SkipSpace();
    if (cur.Peek() == ',') {
      cur.Advance();
      continue;
    }
    if (auto st = cur.Expect('}'); !st.ok()) return st;
    return CloseContainer(&cur);
  }
}

absl::Status ForEachElement(absl::string_view text, const std::function<absl::Status(absl::string_view)>& fn) {
  Cursor cur(text);
  if (auto st = OpenContainer(&cur, '['); !st.ok()) return st;
  cur.SkipSpace();
  if (cur.Peek() == ']') {
    cur.Advance();
    return CloseContainer(&cur);
  }
  while (true) {
    cur.SkipSpace();
    const size_t start = cur.pos();
    if (auto st = cur.SkipValue(); !st.ok()) return st;
    if (auto st = fn(cur.Slice(start)); !st.ok()) return st;
    cur.SkipSpace();
    if (cur.Peek() == ',') {
      cur.Advance();
      continue;
    }
    if (auto st = cur.Expect(']'); !st.ok()) return st;
    return CloseContainer(&cur);
  }
}

int NestingDepth(absl::string_view text) {
  int depth = 0, max_depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {  // skip the string
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\') ++i;
      }
    } else if (c == '{' || c == '[') {
      max_depth = std::max(max_depth, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return max_depth;
}

}  // namespace keel::json
