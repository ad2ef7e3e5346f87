#include "pkg/yaml/yaml_json.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "pkg/yaml/core_schema.h"

namespace keel::yaml {
namespace {

// Builds JSON from yaml-cpp's parse events, without a node graph and without
// recursion of its own: yaml-cpp's Node graph made `a: &x [*x]` a sequence that
// contains itself, which the old recursive walk followed until the stack ran out.
// Here an alias is a copy of the anchored node's finished JSON, so an alias to a
// node still open (its own ancestor) is the only way to make a cycle, and is
// refused. Limit violations throw YAML::ParserException with the node's mark;
// yaml-cpp unwinds and YamlToJson turns it into a Status.
class JsonBuilder final : public YAML::EventHandler {
 public:
  JsonBuilder(const YamlLimits& limits, size_t input_bytes)
      : limits_(limits), max_own_nodes_(2 * input_bytes + 16) {}

  std::vector<JsonDocument> TakeDocuments() { return std::move(docs_); }

  void OnDocumentStart(const YAML::Mark& mark) override {
    // yaml-cpp 0.7 can loop forever on some malformed input (e.g. `a: b"}"c",d`),
    // starting empty document after empty document at one position.
    if (doc_index_ > 0 && mark.pos == last_doc_pos_) {
      Fail(mark, "the YAML parser stopped making progress here (a stray ',' or closing bracket?); refused");
    }
    last_doc_pos_ = mark.pos;
    anchors_.clear();
    anchor_names_.clear();
    out_.clear();
    root_line_ = 0;
    root_is_null_ = false;
  }

  void OnDocumentEnd() override {
    const int index = doc_index_++;
    if (out_.empty() || root_is_null_) return;  // an empty document
    docs_.push_back({index, root_line_, std::move(out_)});
    out_.clear();
  }

  void OnAnchor(const YAML::Mark&, const std::string& name) override { pending_anchor_name_ = name; }

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    NameAnchor(anchor);
    if (BeginKey(mark)) return EmitKey(mark, "null", anchor, Anchored{Anchored::kNull, "null", 1, 0});
    if (frames_.empty()) root_is_null_ = true;
    AppendJson(mark, "null");
    CountNode(mark);
    if (anchor) anchors_[anchor] = {Anchored::kNull, "null", 1, 0};
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    NameAnchor(anchor);
    // "?" is the non-specific tag of a plain scalar: resolved by the core schema.
    // Quoted scalars ("!") and explicitly tagged ones stay strings.
    const bool plain = tag == "?";
    if (BeginKey(mark)) return EmitKey(mark, value, anchor, Anchored{Anchored::kScalar, value, 1, 0, plain});
    AppendJson(mark, ScalarJson(mark, value, plain));
    CountNode(mark);
    if (anchor) anchors_[anchor] = {Anchored::kScalar, value, 1, 0, plain};
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      for (const Frame& f : frames_) {
        if (f.anchor == anchor) {
          Fail(mark, absl::StrCat("alias *", AnchorName(anchor),
                                  " refers to a node that contains it (a cycle); refused"));
        }
      }
      Fail(mark, absl::StrCat("alias *", AnchorName(anchor), " refers to no finished node"));
    }
    const Anchored& a = it->second;
    alias_nodes_ += a.nodes;
    if (alias_nodes_ > limits_.max_alias_nodes) {
      Fail(mark, absl::StrCat("aliases expand to more than ", limits_.max_alias_nodes,
                              " nodes (at *", AnchorName(anchor), "); refused"));
    }
    if (BeginKey(mark)) {
      if (a.type == Anchored::kCollection) Fail(mark, "a mapping key must be a scalar, not a sequence or map");
      return EmitKey(mark, a.value, 0, a);
    }
    if (static_cast<int>(frames_.size()) + a.height > limits_.max_depth) FailDepth(mark);
    AppendJson(mark, a.type == Anchored::kScalar ? ScalarJson(mark, a.value, a.plain) : a.value);
    if (!frames_.empty()) frames_.back().height = std::max(frames_.back().height, a.height + 1);
    nodes_ += a.nodes;
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    OpenCollection(mark, anchor, false);
  }
  void OnSequenceEnd() override { CloseCollection(']'); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    OpenCollection(mark, anchor, true);
  }
  void OnMapEnd() override { CloseCollection('}'); }

 private:
  // A finished anchored node, for its aliases.
  struct Anchored {
    enum Type { kNull, kScalar, kCollection } type;
    std::string value;  // kScalar: the raw scalar; kCollection: its JSON; kNull: "null"
    size_t nodes = 1;   // nodes in it, aliases expanded
    int height = 0;     // nested collections in it (0 for a scalar)
    bool plain = false; // kScalar: resolved by the core schema
  };
  // An open sequence or map.
  struct Frame {
    bool is_map = false;
    bool empty = true;
    bool want_key = true;  // maps: the next node is a key
    YAML::anchor_t anchor = 0;
    size_t start = 0;      // offset of its '[' or '{' in out_
    YAML::Mark mark;
    size_t nodes_at_start = 0;
    int height = 1;
  };

  [[noreturn]] static void Fail(const YAML::Mark& mark, const std::string& msg) {
    throw YAML::ParserException(mark, msg);
  }
  [[noreturn]] void FailDepth(const YAML::Mark& mark) const {
    Fail(mark, absl::StrCat("nested more than ", limits_.max_depth, " levels deep; refused"));
  }

  void NameAnchor(YAML::anchor_t anchor) {
    if (anchor && !pending_anchor_name_.empty()) anchor_names_[anchor] = pending_anchor_name_;
    pending_anchor_name_.clear();
  }
  std::string AnchorName(YAML::anchor_t anchor) const {
    auto it = anchor_names_.find(anchor);
    return it == anchor_names_.end() ? absl::StrCat(anchor) : it->second;
  }

  // True when the node that starts here is a mapping key (EmitKey writes it).
  // Otherwise writes what goes before a value (a ',' between sequence items).
  bool BeginKey(const YAML::Mark& mark) {
    if (frames_.empty()) {
      root_line_ = mark.line + 1;
      return false;
    }
    Frame& top = frames_.back();
    if (top.is_map) {
      if (top.want_key) return true;
      top.want_key = true;  // this node is the value; the next one is a key
      return false;
    }
    if (!top.empty) out_.push_back(',');
    top.empty = false;
    return false;
  }

  void EmitKey(const YAML::Mark& mark, const std::string& key, YAML::anchor_t anchor, const Anchored& as_anchor) {
    Frame& top = frames_.back();
    if (!top.empty) out_.push_back(',');
    top.empty = false;
    top.want_key = false;
    AppendJson(mark, absl::StrCat("\"", JsonEscape(key), "\":"));
    CountNode(mark);
    if (anchor) anchors_[anchor] = as_anchor;
  }

  std::string ScalarJson(const YAML::Mark& mark, const std::string& value, bool plain) const {
    if (plain) {
      switch (ClassifyPlainScalar(value)) {
        case PlainScalarType::kNull: return "null";
        case PlainScalarType::kBool: return PlainScalarBool(value) ? "true" : "false";
        case PlainScalarType::kNumber:
          if (!NumberFitsDouble(value)) {
            Fail(mark, absl::StrCat("number ", value.substr(0, 20), value.size() > 20 ? "..." : "", " (",
                                    value.size(), " characters) is too large for a double; quote it for a string"));
          }
          return NumberToJson(value);
        case PlainScalarType::kString: break;
      }
    }
    return absl::StrCat("\"", JsonEscape(value), "\"");
  }

  void AppendJson(const YAML::Mark& mark, absl::string_view json) {
    json_bytes_ += json.size();
    if (json_bytes_ > limits_.max_json_bytes) {
      Fail(mark, absl::StrCat("the JSON would be larger than ", limits_.max_json_bytes, " bytes; refused"));
    }
    out_.append(json.data(), json.size());
  }

  // Every node but those aliases copy in takes at least half a byte of input
  // (`{a, b}` holds four); more means the parser is looping.
  void CountNode(const YAML::Mark& mark) {
    ++nodes_;
    if (++own_nodes_ > max_own_nodes_) Fail(mark, "more nodes than the input can hold (a parser loop?); refused");
  }

  void OpenCollection(const YAML::Mark& mark, YAML::anchor_t anchor, bool is_map) {
    NameAnchor(anchor);
    if (BeginKey(mark)) Fail(mark, "a mapping key must be a scalar, not a sequence or map");
    if (static_cast<int>(frames_.size()) >= limits_.max_depth) FailDepth(mark);
    Frame f;
    f.is_map = is_map;
    f.anchor = anchor;
    f.mark = mark;
    f.start = out_.size();
    f.nodes_at_start = nodes_;
    AppendJson(mark, is_map ? "{" : "[");
    CountNode(mark);
    frames_.push_back(f);
  }

  void CloseCollection(char close) {
    Frame f = frames_.back();
    frames_.pop_back();
    out_.push_back(close);
    ++json_bytes_;
    if (!frames_.empty()) frames_.back().height = std::max(frames_.back().height, f.height + 1);
    if (f.anchor) {
      // The copy kept for aliases counts as output too: nested anchors would
      // otherwise keep depth x size bytes.
      const size_t size = out_.size() - f.start;
      json_bytes_ += size;
      if (json_bytes_ > limits_.max_json_bytes) {
        Fail(f.mark, absl::StrCat("the JSON and its anchored copies would be larger than ", limits_.max_json_bytes,
                                  " bytes; refused"));
      }
      anchors_[f.anchor] = {Anchored::kCollection, out_.substr(f.start), nodes_ - f.nodes_at_start, f.height};
    }
  }

  const YamlLimits limits_;
  std::vector<JsonDocument> docs_;
  int doc_index_ = 0;
  // The document being built.
  std::string out_;
  int root_line_ = 0;
  bool root_is_null_ = false;
  std::vector<Frame> frames_;
  std::map<YAML::anchor_t, Anchored> anchors_;
  std::map<YAML::anchor_t, std::string> anchor_names_;
  std::string pending_anchor_name_;
  // The whole input.
  size_t nodes_ = 0;      // aliases expanded
  size_t own_nodes_ = 0;  // from the input itself
  const size_t max_own_nodes_;
  int last_doc_pos_ = -1;
  size_t alias_nodes_ = 0;
  size_t json_bytes_ = 0;
};

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

absl::StatusOr<std::vector<JsonDocument>> YamlToJson(absl::string_view text, const YamlLimits& limits) {
  if (text.size() > limits.max_input_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("line 1, column 1: ", text.size(), " bytes, more than the limit of ",
                                                   limits.max_input_bytes, "; refused unread"));
  }
  JsonBuilder builder(limits, text.size());
  try {
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(builder)) {
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg));
  } catch (const std::exception& e) {  // not expected from yaml-cpp; never let one out
    return absl::InvalidArgumentError(absl::StrCat("YAML: ", e.what()));
  }
  return builder.TakeDocuments();
}

}  // namespace keel::yaml
