#include "pkg/yaml/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <regex>

#include "absl/strings/str_cat.h"

namespace keel::yaml {
namespace {

bool IsYamlNull(const std::string& s) { return s == "~" || s == "null" || s == "Null" || s == "NULL"; }

bool IsYamlBool(const std::string& s, bool* value) {
  if (s == "true" || s == "True" || s == "TRUE") return *value = true, true;
  if (s == "false" || s == "False" || s == "FALSE") return *value = false, true;
  return false;
}

bool IsYamlNumber(const std::string& s) {
  // YAML 1.2 core schema int and float (decimal only; JSON has no hex/octal).
  static const std::regex kNumber(R"(^[-+]?(0|[1-9][0-9]*)(\.[0-9]*)?([eE][-+]?[0-9]+)?$)");
  return std::regex_match(s, kNumber);
}

std::string NumberToJson(const std::string& s) {
  std::string out = s[0] == '+' ? s.substr(1) : s;
  if (!out.empty() && out.back() == '.') out.push_back('0');  // "1." is not JSON
  auto dot = out.find('.');
  if (dot != std::string::npos && (dot + 1 == out.size() || !isdigit(out[dot + 1]))) {
    out.insert(dot + 1, "0");
  }
  return out;
}

void AppendNode(const YAML::Node& node, std::string* out) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out->append("null");
      return;
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      bool b = false;
      if (node.Tag() == "?") {  // plain scalar: resolve by the core schema
        if (IsYamlNull(s)) return out->append("null"), void();
        if (IsYamlBool(s, &b)) return out->append(b ? "true" : "false"), void();
        if (IsYamlNumber(s)) return out->append(NumberToJson(s)), void();
      }
      absl::StrAppend(out, "\"", JsonEscape(s), "\"");
      return;
    }
    case YAML::NodeType::Sequence: {
      out->push_back('[');
      bool first = true;
      for (const auto& item : node) {
        if (!first) out->push_back(',');
        first = false;
        AppendNode(item, out);
      }
      out->push_back(']');
      return;
    }
    case YAML::NodeType::Map: {
      out->push_back('{');
      bool first = true;
      for (const auto& kv : node) {
        if (!first) out->push_back(',');
        first = false;
        absl::StrAppend(out, "\"", JsonEscape(kv.first.as<std::string>()), "\":");
        AppendNode(kv.second, out);
      }
      out->push_back('}');
      return;
    }
  }
}

}  // namespace

std::string JsonEscape(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out;
}

absl::StatusOr<std::vector<JsonDocument>> YamlToJson(absl::string_view text) {
  std::vector<JsonDocument> docs;
  try {
    std::vector<YAML::Node> nodes = YAML::LoadAll(std::string(text));
    int index = 0;
    for (const auto& node : nodes) {
      if (node.IsNull()) {
        ++index;
        continue;
      }
      JsonDocument doc;
      doc.index = index++;
      doc.line = node.Mark().line + 1;
      AppendNode(node, &doc.json);
      docs.push_back(std::move(doc));
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("line ", e.mark.line + 1, ", column ",
                                                   e.mark.column + 1, ": ", e.msg));
  }
  return docs;
}

}  // namespace keel::yaml
