// The unit of configuration every source produces and every consumer reads:
// one Kubernetes or Istio object, parsed and validated, immutable once built.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/string_view.h"

#include <google/protobuf/message.h>

#include "pilot/model/kinds.gen.h"

namespace keel::pilot::model {

// model::Kind (generated from kinds.yaml; pilot/model/kind_schema.h has each kind's row).
absl::string_view KindName(Kind kind);           // "VirtualService"
bool KindIsIstio(Kind kind);                    // the *.istio.io kinds
bool KindFromName(absl::string_view name, Kind* kind);

// Identity of an object: (kind, namespace, name). Cluster-scoped objects
// (Namespace) have an empty namespace.
struct ConfigKey {
  Kind kind = Kind::kNamespace;
  std::string ns;
  std::string name;

  std::string ToString() const;  // "VirtualService default/reviews"
  friend bool operator<(const ConfigKey& a, const ConfigKey& b) {
    return std::tie(a.kind, a.ns, a.name) < std::tie(b.kind, b.ns, b.name);
  }
  friend bool operator==(const ConfigKey& a, const ConfigKey& b) {
    return a.kind == b.kind && a.ns == b.ns && a.name == b.name;
  }
};

// The Kubernetes object metadata Keel uses.
struct ConfigMeta {
  std::string api_version;                  // "networking.istio.io/v1beta1"
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string creation_timestamp;           // RFC 3339, as the API server writes it
  std::string resource_version;
  std::string origin;                       // where it came from: "file.yaml#2" or "kube"
};

// One object. `body` is the typed message: for Istio kinds the spec
// (istio.networking.v1alpha3.VirtualService, ...); for Kubernetes kinds the whole
// object (keel.k8s.v1.Service, ...).
struct Config {
  ConfigKey key;
  ConfigMeta meta;
  std::shared_ptr<const google::protobuf::Message> body;
  // Spec fields set here that Keel does not translate (model/unsupported_fields.h).
  std::vector<std::string> unsupported_fields;

  template <typename T>
  const T& As() const { return static_cast<const T&>(*body); }
};

using ConfigPtr = std::shared_ptr<const Config>;

// A change to one object: upsert when `config` is set, delete when it is null.
struct ConfigEvent {
  ConfigKey key;
  ConfigPtr config;
};

}  // namespace keel::pilot::model
