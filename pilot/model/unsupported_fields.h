// Which fields of an Istio object Keel does not translate, so they are reported
// (/debug/push_status keel_unsupported_config) instead of silently dropped.
#pragma once

#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

#include "pilot/model/kind_schema.h"

namespace keel::pilot::model {

// The fields set in `spec` that `schema.translated_fields` does not cover, as paths
// the way the YAML spells them ("http.mirror", "trafficPolicy.tunnel"): JSON names,
// no list indices, map values under the map's own path. A listed path covers its
// whole subtree. Sorted, each path once, and only the outermost uncovered field of a
// subtree (its children are not listed as well).
//
// Empty for a kind Keel does not translate at all (the kind is the report there) and
// for Kubernetes kinds (Keel reads what it needs of them; the rest is not config).
std::vector<std::string> UnsupportedFields(const KindSchema& schema, const google::protobuf::Message& spec);

// The same walk over any message with the covered paths given: the fields set in
// `message` that no path of `covered` covers (MeshConfig's unused fields use it).
std::vector<std::string> UncoveredFields(absl::Span<const absl::string_view> covered,
                                         const google::protobuf::Message& message);

// "" when every entry of `schema.translated_fields` names a field of its message
// (by JSON name, through messages, lists and map values); else the first bad path.
// For a unit test over every row: a typo there would hide an unsupported field.
std::string FirstUnresolvedTranslatedField(const KindSchema& schema);

}  // namespace keel::pilot::model
