#include "pilot/config/config_parser.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "istio/networking/v1alpha3/destination_rule.pb.h"
#include "istio/networking/v1alpha3/gateway.pb.h"
#include "istio/networking/v1alpha3/service_entry.pb.h"
#include "istio/networking/v1alpha3/sidecar.pb.h"
#include "istio/networking/v1alpha3/virtual_service.pb.h"
#include "keel/k8s/v1/objects.pb.h"
#include "pilot/config/go_duration.h"
#include "pilot/config/validation.h"
#include "pkg/json/json_scan.h"
#include "pkg/kube/object_decoder.h"

namespace keel::pilot::config {
namespace {

using google::protobuf::Message;
using google::protobuf::Struct;
using google::protobuf::Value;
namespace k8s = ::keel::k8s::v1;
namespace networking = ::istio::networking::v1alpha3;

// What each kind is: the API groups/versions it is served at and its message.
struct KindInfo {
  model::Kind kind;
  bool namespaced;
  std::unique_ptr<Message> (*make)();
};

template <typename T>
std::unique_ptr<Message> Make() { return std::make_unique<T>(); }

bool LookupKind(const std::string& api_version, const std::string& kind_name, KindInfo* info) {
  model::Kind kind;
  if (!model::KindFromName(kind_name, &kind)) return false;
  bool istio_group = absl::StartsWith(api_version, "networking.istio.io/") &&
                     (api_version == "networking.istio.io/v1alpha3" ||
                      api_version == "networking.istio.io/v1beta1" ||
                      api_version == "networking.istio.io/v1");
  switch (kind) {
    case model::Kind::kNamespace:
      *info = {kind, false, &Make<k8s::Namespace>};
      return api_version == "v1";
    case model::Kind::kService:
      *info = {kind, true, &Make<k8s::Service>};
      return api_version == "v1";
    case model::Kind::kPod:
      *info = {kind, true, &Make<k8s::Pod>};
      return api_version == "v1";
    case model::Kind::kSecret:
      *info = {kind, true, &Make<k8s::Secret>};
      return api_version == "v1";
    case model::Kind::kConfigMap:
      *info = {kind, true, &Make<k8s::ConfigMap>};
      return api_version == "v1";
    case model::Kind::kEndpointSlice:
      *info = {kind, true, &Make<k8s::EndpointSlice>};
      return api_version == "discovery.k8s.io/v1";
    case model::Kind::kGateway:
      *info = {kind, true, &Make<networking::Gateway>};
      return istio_group;
    case model::Kind::kVirtualService:
      *info = {kind, true, &Make<networking::VirtualService>};
      return istio_group;
    case model::Kind::kDestinationRule:
      *info = {kind, true, &Make<networking::DestinationRule>};
      return istio_group;
    case model::Kind::kServiceEntry:
      *info = {kind, true, &Make<networking::ServiceEntry>};
      return istio_group;
    case model::Kind::kSidecar:
      *info = {kind, true, &Make<networking::Sidecar>};
      return istio_group;
  }
  return false;
}

std::string StringField(const Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  if (it == s.fields().end() || it->second.kind_case() != Value::kStringValue) return "";
  return it->second.string_value();
}

// protobuf's JSON errors read "INVALID_ARGUMENT:<detail>"; keep the detail.
std::string JsonErrorDetail(const google::protobuf::util::Status& status) {
  return std::string(status.message());
}

void StringMapField(const Struct& meta, const std::string& name,
                    std::map<std::string, std::string>* out) {
  auto it = meta.fields().find(name);
  if (it == meta.fields().end() || it->second.kind_case() != Value::kStructValue) return;
  for (const auto& [k, v] : it->second.struct_value().fields()) {
    if (v.kind_case() == Value::kStringValue) (*out)[k] = v.string_value();
  }
}

}  // namespace

absl::StatusOr<model::ConfigPtr> ParseConfig(const std::string& json, const std::string& origin) {
  // Decoded as the Kubernetes watcher decodes: status unread except for the kinds
  // whose status Keel uses, metadata.managedFields never, depth bounded.
  std::string kind_name;
  (void)keel::json::ForEachMember(json, [&kind_name](const keel::json::Member& m) {
    if (m.key == "kind") {
      auto v = keel::json::StringValue(m.value);
      if (v.ok()) kind_name = std::move(*v);
    }
    return absl::OkStatus();
  });
  kube::DecodeOptions options;
  options.keep_status = kind_name == "Pod" || kind_name == "Service";
  options.max_object_bytes = std::numeric_limits<size_t>::max();  // the file source bounds its input
  kube::DecodedObject decoded = kube::DecodeObject(json, options);
  if (!decoded.error.ok()) return absl::InvalidArgumentError(decoded.error.message());
  return ParseConfigObject(decoded.object, origin);
}

absl::StatusOr<model::ConfigPtr> ParseConfigObject(const Struct& object, const std::string& origin) {
  const std::string api_version = StringField(object, "apiVersion");
  const std::string kind_name = StringField(object, "kind");
  if (api_version.empty() || kind_name.empty()) {
    return absl::InvalidArgumentError("object has no apiVersion or kind");
  }
  auto meta_it = object.fields().find("metadata");
  if (meta_it == object.fields().end() || meta_it->second.kind_case() != Value::kStructValue) {
    return absl::InvalidArgumentError(absl::StrCat(kind_name, ": metadata is missing"));
  }
  const Struct& meta = meta_it->second.struct_value();
  KindInfo info;
  if (!LookupKind(api_version, kind_name, &info)) {
    return absl::UnimplementedError(
        absl::StrCat(api_version, " ", kind_name, " ", StringField(meta, "name"), " is not used by Keel"));
  }

  auto config = std::make_shared<model::Config>();
  config->key.kind = info.kind;
  config->key.name = StringField(meta, "name");
  if (info.namespaced) {
    config->key.ns = StringField(meta, "namespace");
    if (config->key.ns.empty()) config->key.ns = kDefaultNamespace;
  }
  if (config->key.name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(kind_name, ": metadata.name is required"));
  }
  config->meta.api_version = api_version;
  config->meta.creation_timestamp = StringField(meta, "creationTimestamp");
  config->meta.resource_version = StringField(meta, "resourceVersion");
  config->meta.origin = origin;
  StringMapField(meta, "labels", &config->meta.labels);
  StringMapField(meta, "annotations", &config->meta.annotations);

  std::unique_ptr<Message> body = info.make();
  std::string body_json;
  google::protobuf::util::JsonParseOptions options;
  if (model::KindIsIstio(info.kind)) {
    // Istio specs are strict: a misspelt field is an error, as the CRD schema makes it.
    auto spec = object.fields().find("spec");
    if (spec != object.fields().end()) {
      Value normalized = spec->second;
      NormalizeDurations(body->GetDescriptor(), &normalized);
      (void)google::protobuf::util::MessageToJsonString(normalized, &body_json);
    } else {
      body_json = "{}";
    }
    options.ignore_unknown_fields = false;
  } else {
    // Kubernetes objects carry many fields Keel does not read.
    (void)google::protobuf::util::MessageToJsonString(object, &body_json);
    options.ignore_unknown_fields = true;
  }
  if (auto st = google::protobuf::util::JsonStringToMessage(body_json, body.get(), options);
      !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(config->key.ToString(), ": ",
                                                   model::KindIsIstio(info.kind) ? "spec: " : "",
                                                   JsonErrorDetail(st)));
  }
  config->body = std::move(body);
  if (auto st = Validate(*config); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(config->key.ToString(), ": ", st.message()));
  }
  return model::ConfigPtr(std::move(config));
}

}  // namespace keel::pilot::config
