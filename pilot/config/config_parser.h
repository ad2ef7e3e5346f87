// Turns one JSON document (a Kubernetes or Istio object, as a user writes it or
// the API server returns it) into a typed, validated model::Config.
#pragma once

#include <string>

#include <google/protobuf/struct.pb.h>

#include "absl/status/statusor.h"
#include "pilot/model/config.h"

namespace keel::pilot::config {

// Parses `json` and validates it (Istio kinds as istiod's validating webhook
// does). `origin` says where it came from ("dir/file.yaml#0" or "kube") and is
// kept in the result's meta. As from the API server (kube::DecodeObject),
// `status` is not read except for Pods and Services, metadata.managedFields
// never, and an object nested more than 32 levels deep is refused.
//
// Errors, each naming the object (kind namespace/name) and the field:
//  - Unimplemented: a well-formed object of a kind Keel does not use (callers
//    skip these quietly);
//    (including an Istio kind at an apiVersion Istio does not serve);
//  - InvalidArgument: everything else (no apiVersion or kind, missing name, a field that
//    the kind does not have, a value that fails validation).
absl::StatusOr<model::ConfigPtr> ParseConfig(const std::string& json, const std::string& origin);

// The same, for an object already parsed into a JSON tree (what the Kubernetes
// watcher holds).
absl::StatusOr<model::ConfigPtr> ParseConfigObject(const google::protobuf::Struct& object, const std::string& origin);

// The default namespace of objects that do not name one.
inline constexpr char kDefaultNamespace[] = "default";

}  // namespace keel::pilot::config
