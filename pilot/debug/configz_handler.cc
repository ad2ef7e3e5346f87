// /debug/configz. What it shows of each kind (istiod's configz lists its Istio
// config store only; Keel's store also holds the Kubernetes objects it reads):
// - Istio kinds (Gateway, VirtualService, DestinationRule, ServiceEntry, Sidecar):
//   metadata and the whole spec, as istiod.
// - Namespace, Service, Pod, EndpointSlice: the object as Keel keeps it (only
//   the fields it translates, e.g. no container env), metadata included.
// - Secret: metadata and `type` only, never `data` or `stringData` (gateway
//   keys, the CA root key in istio-ca-secret, passwords).
// - ConfigMap: metadata only (Keel serves nothing from a ConfigMap's data; the
//   system namespace's ones hold the mesh config and the root certificate).
// Metadata is name, namespace, labels, annotations, creationTimestamp,
// resourceVersion and Keel's origin, except: Secrets and ConfigMaps carry no
// annotations, and no Kubernetes kind carries
// kubectl.kubernetes.io/last-applied-configuration (the object as the client
// wrote it, all fields and values included).
#include "keel/k8s/v1/objects.pb.h"
#include "pilot/debug/handlers.h"
#include "pilot/debug/json.h"

namespace keel::pilot::debug {
namespace {

constexpr char kLastApplied[] = "kubectl.kubernetes.io/last-applied-configuration";

google::protobuf::Value MetadataValue(const model::ConfigKey& key, const model::Config& config, bool annotations) {
  google::protobuf::Value meta;
  auto& m = Fields(meta);
  m["name"] = StringValue(key.name);
  if (!key.ns.empty()) m["namespace"] = StringValue(key.ns);
  if (!config.meta.labels.empty()) m["labels"] = StringMapValue(config.meta.labels);
  if (annotations) {
    std::map<std::string, std::string> shown = config.meta.annotations;
    if (!model::KindIsIstio(key.kind)) shown.erase(kLastApplied);
    if (!shown.empty()) m["annotations"] = StringMapValue(shown);
  }
  if (!config.meta.creation_timestamp.empty()) m["creationTimestamp"] = StringValue(config.meta.creation_timestamp);
  if (!config.meta.resource_version.empty()) m["resourceVersion"] = StringValue(config.meta.resource_version);
  m["origin"] = StringValue(config.meta.origin);
  return meta;
}

// The object without metadata, by the rules above.
google::protobuf::Value BodyValue(const model::ConfigKey& key, const model::Config& config) {
  google::protobuf::Value item = EmptyObject();
  switch (key.kind) {
    case model::Kind::kSecret: {
      const auto* secret = dynamic_cast<const ::keel::k8s::v1::Secret*>(config.body.get());
      if (secret && !secret->type().empty()) Fields(item)["type"] = StringValue(secret->type());
      return item;
    }
    case model::Kind::kConfigMap:
      return item;
    default:
      break;
  }
  google::protobuf::Value body = MessageToValue(*config.body);
  if (model::KindIsIstio(key.kind)) {
    Fields(item)["spec"] = std::move(body);
    return item;
  }
  return body;  // its metadata is replaced by the caller
}

}  // namespace

http::HttpHandler MakeConfigzHandler(const model::ConfigStore& store) {
  return [&store](const http::HttpRequest&) {
    google::protobuf::Value out = EmptyList();
    for (const auto& [key, config] : *store.Snapshot()) {
      google::protobuf::Value item = BodyValue(key, *config);
      auto& fields = Fields(item);
      fields["kind"] = StringValue(std::string(model::KindName(key.kind)));
      fields["apiVersion"] = StringValue(config->meta.api_version);
      const bool annotations = key.kind != model::Kind::kSecret && key.kind != model::Kind::kConfigMap;
      fields["metadata"] = MetadataValue(key, *config, annotations);
      Append(out) = std::move(item);
    }
    return JsonResponse(out);
  };
}

}  // namespace keel::pilot::debug
