#include "pilot/config/config_parser.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "pilot/config/go_duration.h"
#include "pilot/config/validation.h"
#include "pilot/model/kind_schema.h"
#include "pilot/model/unsupported_fields.h"
#include "pkg/json/json_scan.h"
#include "pkg/kube/object_decoder.h"

namespace keel::pilot::config {
namespace {

using google::protobuf::Message;
using google::protobuf::Struct;
using google::protobuf::Value;

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
  const model::KindSchema* schema = model::SchemaByName(kind_name);
  options.keep_status = schema != nullptr && schema->keep_status;
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
  const model::KindSchema* schema = model::SchemaByName(kind_name);
  if (schema == nullptr || !schema->ServesApiVersion(api_version)) {
    return absl::UnimplementedError(
        absl::StrCat(api_version, " ", kind_name, " ", StringField(meta, "name"), " is not used by Keel"));
  }

  auto config = std::make_shared<model::Config>();
  config->key.kind = schema->kind;
  config->key.name = StringField(meta, "name");
  if (!schema->cluster_scoped) {
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

  std::unique_ptr<Message> body = schema->new_body();
  std::string body_json;
  google::protobuf::util::JsonParseOptions options;
  if (schema->istio) {
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
                                                   schema->istio ? "spec: " : "",
                                                   JsonErrorDetail(st)));
  }
  config->body = std::move(body);
  if (auto st = Validate(*config); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(config->key.ToString(), ": ", st.message()));
  }
  config->unsupported_fields = model::UnsupportedFields(*schema, *config->body);
  return model::ConfigPtr(std::move(config));
}

}  // namespace keel::pilot::config
