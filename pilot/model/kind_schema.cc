#include "pilot/model/kind_schema.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace keel::pilot::model {

extern const KindSchema kKindSchemas[kKindCount];  // kinds.gen.cc

bool KindSchema::ServesVersion(absl::string_view version) const {
  for (absl::string_view v : versions) {
    if (v == version) return true;
  }
  return false;
}

bool KindSchema::ServesApiVersion(absl::string_view api_version) const {
  if (!group.empty() &&
      !(absl::ConsumePrefix(&api_version, group) && absl::ConsumePrefix(&api_version, "/"))) {
    return false;
  }
  return ServesVersion(api_version);
}

std::string KindSchema::ApiVersion(absl::string_view version) const {
  return group.empty() ? std::string(version) : absl::StrCat(group, "/", version);
}

absl::Span<const KindSchema> AllKinds() { return absl::MakeConstSpan(kKindSchemas, kKindCount); }

const KindSchema& SchemaOf(Kind kind) { return kKindSchemas[static_cast<int>(kind)]; }

const KindSchema* SchemaByName(absl::string_view kind_name) {
  for (const KindSchema& schema : AllKinds()) {
    if (schema.name == kind_name) return &schema;
  }
  return nullptr;
}

}  // namespace keel::pilot::model
