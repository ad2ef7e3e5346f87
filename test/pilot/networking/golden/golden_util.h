// Golden-file testing of the xDS a proxy receives (Istio's pilot/test/util/diff.go
// in spirit): config YAML in, canonical JSON of every resource out.
#pragma once

#include <google/protobuf/struct.pb.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace keel::testing {

// One proxy of a case, as declared in case.yaml.
struct GoldenProxy {
  std::string name;                           // output file: <name>.golden.json
  std::string id;                             // node id
  std::map<std::string, std::string> metadata;  // GENERATOR, NAMESPACE, ...
  std::map<std::string, std::string> labels;  // metadata LABELS
  std::vector<std::string> listeners;         // names to ask LDS for (proxyless); empty = wildcard
};

struct GoldenCase {
  std::string name;
  std::string dir;
  std::vector<std::string> inputs;  // YAML files (absolute)
  std::vector<GoldenProxy> proxies;
  std::string mesh;  // MeshConfig YAML (ConfigMap istio's `mesh` key) over the defaults; "" none
};

// Reads DIR/case.yaml: `inputs` (relative to DIR, or to the repo root when they
// start with "//"; a directory means every *.yaml in it), `proxies`, and
// optionally `mesh`, the mesh config the case is served with (as istiod's
// ConfigMap istio, key `mesh`).
absl::StatusOr<GoldenCase> LoadCase(const std::string& dir, const std::string& repo_root);

// Generates what `proxy` would receive for the case's config, subscribing the way
// a client does (LDS, then the RDS/CDS/EDS/SDS names the resources refer to), and
// renders it as canonical JSON (sorted keys, 2-space indent).
absl::StatusOr<std::string> RenderProxy(const GoldenCase& c, const GoldenProxy& proxy);

// JSON with object keys sorted, for stable diffs.
std::string CanonicalJson(const google::protobuf::Value& value);

// Compares `actual` with the golden file; with REFRESH_GOLDEN=1 in the
// environment, writes it instead. Returns "" on match, else a unified diff.
std::string CompareGolden(const std::string& path, const std::string& actual);

}  // namespace keel::testing
