#include "pilot/inject/label_selector.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace keel::pilot::inject {

bool LabelSelector::Matches(const std::map<std::string, std::string>& labels) const {
  for (const auto& [key, value] : match_labels) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  for (const auto& r : match_expressions) {
    auto it = labels.find(r.key);
    const bool present = it != labels.end();
    const bool listed = present && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
    if (r.op == "In" && !listed) return false;
    if (r.op == "NotIn" && listed) return false;
    if (r.op == "Exists" && !present) return false;
    if (r.op == "DoesNotExist" && present) return false;
  }
  return true;
}

absl::StatusOr<LabelSelector> ParseLabelSelector(const JsonObject& selector) {
  LabelSelector out;
  out.match_labels = StringMapAt(selector, "matchLabels");
  const JsonList& expressions = ListAt(selector, "matchExpressions");
  for (int i = 0; i < expressions.values_size(); ++i) {
    const JsonObject& e = expressions.values(i).struct_value();
    LabelRequirement r{StringAt(e, "key"), StringAt(e, "operator"), {}};
    for (const auto& v : ListAt(e, "values").values()) r.values.push_back(v.string_value());
    const std::string where = absl::StrCat("matchExpressions[", i, "]");
    if (r.key.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ".key: required"));
    if (r.op == "In" || r.op == "NotIn") {
      if (r.values.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ".values: required for ", r.op));
    } else if (r.op == "Exists" || r.op == "DoesNotExist") {
      if (!r.values.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ".values: must be empty for ", r.op));
    } else {
      return absl::InvalidArgumentError(absl::StrCat(where, ".operator: \"", r.op, "\" is not In, NotIn, Exists or DoesNotExist"));
    }
    out.match_expressions.push_back(std::move(r));
  }
  return out;
}

}  // namespace keel::pilot::inject
