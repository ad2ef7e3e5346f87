#include "pilot/inject/label_selector.h"

#include "absl/strings/str_cat.h"

namespace keel::pilot::inject {

absl::StatusOr<LabelSelector> ParseLabelSelector(const JsonObject& selector) {
  LabelSelector out;
  out.match_labels = StringMapAt(selector, "matchLabels");
  const JsonList& expressions = ListAt(selector, "matchExpressions");
  for (int i = 0; i < expressions.values_size(); ++i) {
    const JsonObject& e = expressions.values(i).struct_value();
    LabelRequirement r{StringAt(e, "key"), StringAt(e, "operator"), {}};
    for (const auto& v : ListAt(e, "values").values()) r.values.push_back(v.string_value());
    if (auto st = model::ValidateLabelRequirement(r, absl::StrCat("matchExpressions[", i, "]")); !st.ok()) return st;
    out.match_expressions.push_back(std::move(r));
  }
  return out;
}

}  // namespace keel::pilot::inject
