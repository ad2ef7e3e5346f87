#include "pilot/model/proxy.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "envoy/config/core/v3/base.pb.h"

namespace keel::pilot::model {
namespace {

std::string MetadataString(const google::protobuf::Struct& md, const std::string& key) {
  auto it = md.fields().find(key);
  if (it == md.fields().end() || it->second.kind_case() != google::protobuf::Value::kStringValue) {
    return "";
  }
  return it->second.string_value();
}

}  // namespace

absl::StatusOr<Proxy> ParseProxy(const envoy::config::core::v3::Node& node) {
  Proxy proxy;
  proxy.id = node.id();
  std::vector<std::string> parts = absl::StrSplit(node.id(), '~');
  if (parts.size() != 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "node.id \"", node.id(), "\": want 4 parts TYPE~IP~POD.NAMESPACE~NAMESPACE.svc.DOMAIN"));
  }
  if (parts[0] == "sidecar") {
    proxy.type = ProxyType::kSidecar;
  } else if (parts[0] == "router") {
    proxy.type = ProxyType::kRouter;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("node.id \"", node.id(), "\": type \"", parts[0], "\" is not sidecar or router"));
  }
  proxy.ip = std::vector<std::string>(absl::StrSplit(parts[1], ','))[0];
  std::vector<std::string> pod = absl::StrSplit(parts[2], absl::MaxSplits('.', 1));
  proxy.pod_name = pod[0];
  if (pod.size() > 1) proxy.ns = pod[1];
  proxy.dns_domain = parts[3];

  const auto& md = node.metadata();
  proxy.proxyless_grpc = MetadataString(md, "GENERATOR") == "grpc";
  if (auto ns = MetadataString(md, "NAMESPACE"); !ns.empty()) proxy.ns = ns;
  if (proxy.ns.empty()) {
    proxy.ns = std::vector<std::string>(absl::StrSplit(proxy.dns_domain, '.'))[0];
  }
  if (proxy.ns.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("node.id \"", node.id(), "\": no namespace"));
  }
  proxy.cluster_id = MetadataString(md, "CLUSTER_ID");
  proxy.mesh_id = MetadataString(md, "MESH_ID");
  proxy.istio_version = MetadataString(md, "ISTIO_VERSION");
  if (auto it = md.fields().find("LABELS"); it != md.fields().end() && it->second.has_struct_value()) {
    for (const auto& [k, v] : it->second.struct_value().fields()) {
      if (v.kind_case() == google::protobuf::Value::kStringValue) proxy.labels[k] = v.string_value();
    }
  }
  proxy.region = node.locality().region();
  proxy.zone = node.locality().zone();
  proxy.sub_zone = node.locality().sub_zone();
  return proxy;
}

}  // namespace keel::pilot::model
