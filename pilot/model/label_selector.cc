#include "pilot/model/label_selector.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace keel::pilot::model {

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

absl::Status ValidateLabelRequirement(const LabelRequirement& r, const std::string& where) {
  if (r.key.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ".key: required"));
  if (r.op == "In" || r.op == "NotIn") {
    if (r.values.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ".values: required for ", r.op));
  } else if (r.op == "Exists" || r.op == "DoesNotExist") {
    if (!r.values.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ".values: must be empty for ", r.op));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".operator: \"", r.op, "\" is not In, NotIn, Exists or DoesNotExist"));
  }
  return absl::OkStatus();
}

absl::StatusOr<LabelSelector> FromMeshSelector(const ::istio::mesh::v1alpha1::LabelSelector& selector) {
  LabelSelector out;
  out.match_labels.insert(selector.matchlabels().begin(), selector.matchlabels().end());
  for (int i = 0; i < selector.matchexpressions_size(); ++i) {
    const auto& e = selector.matchexpressions(i);
    LabelRequirement r{e.key(), e.operator_(), {e.values().begin(), e.values().end()}};
    if (auto st = ValidateLabelRequirement(r, absl::StrCat("matchExpressions[", i, "]")); !st.ok()) return st;
    out.match_expressions.push_back(std::move(r));
  }
  return out;
}

}  // namespace keel::pilot::model
