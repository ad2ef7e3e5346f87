// What each kind is, from the one table pilot/model/kinds.yaml (see its header for the
// fields and what else is derived from it). The rows are generated at build time
// (kinds.gen.cc); this header is the interface every consumer uses.
#pragma once

#include <memory>

#include <google/protobuf/message.h>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "pilot/model/kinds.gen.h"

namespace keel::pilot::model {

struct KindSchema {
  Kind kind;
  absl::string_view name;                        // "VirtualService"
  absl::string_view group;                       // "networking.istio.io"; "" is core
  absl::Span<const absl::string_view> versions;  // served, preferred first
  absl::string_view plural;                      // "virtualservices"
  bool cluster_scoped;
  bool istio;       // an Istio kind: the body is the spec, parsed strictly
  bool translated;  // Keel builds xDS from it (or uses it); false: stored and listed only
  bool keep_status;                 // the informer keeps .status
  absl::string_view field_selector;  // the informer lists with it ("" for none)
  bool system_namespace_only;        // watched in Keel's own namespace only
  absl::string_view proto;           // full name of the body's message
  std::unique_ptr<google::protobuf::Message> (*new_body)();  // an empty body
  // Translated Istio kinds: the spec fields Keel turns into xDS, as paths
  // ("http.route.destination.host"); a path covers its subtree. Anything else set
  // in a spec is reported as unsupported (model/unsupported_fields.h).
  absl::Span<const absl::string_view> translated_fields;

  bool ServesVersion(absl::string_view version) const;          // "v1"
  bool ServesApiVersion(absl::string_view api_version) const;  // "networking.istio.io/v1"
  // "networking.istio.io/v1" for a version; core kinds: "v1".
  std::string ApiVersion(absl::string_view version) const;
};

// Every row, in Kind order.
absl::Span<const KindSchema> AllKinds();
const KindSchema& SchemaOf(Kind kind);
// Null when no row has that kind name.
const KindSchema* SchemaByName(absl::string_view kind_name);

}  // namespace keel::pilot::model
