#include "pilot/model/config.h"

#include "absl/strings/str_cat.h"
#include "pilot/model/kind_schema.h"

namespace keel::pilot::model {

absl::string_view KindName(Kind kind) { return SchemaOf(kind).name; }

bool KindIsIstio(Kind kind) { return SchemaOf(kind).istio; }

bool KindFromName(absl::string_view name, Kind* kind) {
  const KindSchema* schema = SchemaByName(name);
  if (schema == nullptr) return false;
  *kind = schema->kind;
  return true;
}

std::string ConfigKey::ToString() const {
  if (ns.empty()) return absl::StrCat(KindName(kind), " ", name);
  return absl::StrCat(KindName(kind), " ", ns, "/", name);
}

}  // namespace keel::pilot::model
