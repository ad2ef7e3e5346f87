#include "pilot/config/mesh_watcher.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "keel/k8s/v1/objects.pb.h"
#include "pilot/model/label_selector.h"
#include "pilot/model/unsupported_fields.h"
#include "pkg/yaml/yaml_json.h"

namespace keel::pilot::config {
namespace {

using google::protobuf::FieldDescriptor;
using model::MeshConfig;

// istiod's ValidateTrustDomain: dot-separated labels of letters, digits, '-' and
// '_', none empty (a trailing dot allowed), none starting or ending with '-'.
absl::Status ValidateTrustDomain(const std::string& field, const std::string& domain) {
  if (domain.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": empty trust domain"));
  std::vector<absl::string_view> labels = absl::StrSplit(domain, '.');
  if (labels.size() > 1 && labels.back().empty()) labels.pop_back();
  for (absl::string_view label : labels) {
    bool ok = !label.empty() && label.front() != '-' && label.back() != '-';
    for (char c : label) ok = ok && (absl::ascii_isalnum(c) || c == '-' || c == '_');
    if (!ok) return absl::InvalidArgumentError(absl::StrCat(field, ": \"", domain, "\" is not a valid trust domain"));
  }
  return absl::OkStatus();
}

// Removes from `object` (a message of type `message` as JSON) the keys that name no
// field, recording their paths in `dropped`: istiod ignores unknown mesh fields
// (version skew), yet a wrong value of a known field (an unknown enum name
// included) must still fail, which protobuf's ignore_unknown_fields would hide.
void DropUnknownFields(const google::protobuf::Descriptor& message, const std::string& prefix,
                       google::protobuf::Struct* object, std::vector<std::string>* dropped) {
  auto* fields = object->mutable_fields();
  for (auto it = fields->begin(); it != fields->end();) {
    const std::string path = prefix.empty() ? it->first : absl::StrCat(prefix, ".", it->first);
    const FieldDescriptor* field = message.FindFieldByName(it->first);
    for (int i = 0; field == nullptr && i < message.field_count(); ++i) {
      if (message.field(i)->json_name() == it->first) field = message.field(i);
    }
    if (field == nullptr) {
      dropped->push_back(path);
      it = fields->erase(it);
      continue;
    }
    const google::protobuf::Descriptor* type =
        field->is_map() ? field->message_type()->map_value()->message_type() : field->message_type();
    // Well-known types (Duration, BoolValue, Struct...) have JSON forms of their own.
    if (type != nullptr && !absl::StartsWith(type->full_name(), "google.protobuf.")) {
      google::protobuf::Value& value = it->second;
      if (field->is_map() && value.has_struct_value()) {
        for (auto& [key, element] : *value.mutable_struct_value()->mutable_fields()) {
          if (element.has_struct_value()) DropUnknownFields(*type, path, element.mutable_struct_value(), dropped);
        }
      } else if (field->is_repeated() && value.has_list_value()) {
        for (auto& element : *value.mutable_list_value()->mutable_values()) {
          if (element.has_struct_value()) DropUnknownFields(*type, path, element.mutable_struct_value(), dropped);
        }
      } else if (value.has_struct_value()) {
        DropUnknownFields(*type, path, value.mutable_struct_value(), dropped);
      }
    }
    ++it;
  }
}

}  // namespace

std::string MeshConfigMapName(const std::string& revision) {
  return revision.empty() || revision == "default" ? "istio" : absl::StrCat("istio-", revision);
}

absl::StatusOr<AppliedMesh> ApplyMeshConfig(const std::string& yaml, const MeshConfig& defaults) {
  auto docs = yaml::YamlToJson(yaml);
  if (!docs.ok()) return absl::InvalidArgumentError(absl::StrCat("mesh: ", docs.status().message()));
  if (docs->size() > 1) return absl::InvalidArgumentError("mesh: more than one YAML document");
  AppliedMesh out;
  MeshConfig overlay;
  std::set<std::string> written_keys;  // the top-level keys of the YAML
  if (!docs->empty()) {
    google::protobuf::Value tree;
    if (auto st = google::protobuf::util::JsonStringToMessage(docs->front().json, &tree); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("mesh: ", std::string(st.message())));
    }
    std::vector<std::string> unknown;
    if (tree.has_struct_value()) DropUnknownFields(*MeshConfig::descriptor(), "", tree.mutable_struct_value(), &unknown);
    if (tree.has_struct_value()) {
      for (const auto& entry : tree.struct_value().fields()) written_keys.insert(entry.first);
    }
    std::sort(unknown.begin(), unknown.end());  // a Struct's map has no order
    out.unknown_fields = absl::StrJoin(unknown, ", ");
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(tree, &json);
    if (auto st = google::protobuf::util::JsonStringToMessage(json, &overlay); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("mesh: ", std::string(st.message())));
    }
  }
  // Top-level fields replace, defaultConfig merges (MergeFrom does the rest). A
  // boolean the YAML sets to false (enableTracing: false) replaces too, though
  // proto3 cannot tell it from unset: the keys written decide. (An empty string
  // stays unset, so the defaults' trust domain and root namespace hold.)
  out.mesh = defaults;
  std::vector<const FieldDescriptor*> set;
  overlay.GetReflection()->ListFields(overlay, &set);
  for (const std::string& key : written_keys) {
    const FieldDescriptor* field = MeshConfig::descriptor()->FindFieldByCamelcaseName(key);
    if (field == nullptr) field = MeshConfig::descriptor()->FindFieldByName(key);
    if (field != nullptr && field->type() == FieldDescriptor::TYPE_BOOL && !field->is_repeated()) set.push_back(field);
  }
  for (const FieldDescriptor* field : set) {
    if (field->number() != MeshConfig::kDefaultConfigFieldNumber) out.mesh.GetReflection()->ClearField(&out.mesh, field);
  }
  out.mesh.MergeFrom(overlay);
  if (auto st = ValidateTrustDomain("mesh: trustDomain", out.mesh.trust_domain()); !st.ok()) return st;
  // istiod logs a selector it cannot parse and keeps its previous filter; Keel
  // refuses the mesh, naming the field, and the previous mesh stays.
  for (int i = 0; i < out.mesh.discovery_selectors_size(); ++i) {
    if (auto selector = model::FromMeshSelector(out.mesh.discovery_selectors(i)); !selector.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("mesh: discoverySelectors[", i, "].", selector.status().message()));
    }
  }
  for (int i = 0; i < out.mesh.trust_domain_aliases_size(); ++i) {
    if (auto st = ValidateTrustDomain(absl::StrCat("mesh: trustDomainAliases[", i, "]"), out.mesh.trust_domain_aliases(i));
        !st.ok()) {
      return st;
    }
  }
  out.unused = model::UncoveredFields(kMeshFieldsUsed, overlay);
  return out;
}

MeshWatcher::MeshWatcher(model::ConfigKey configmap, MeshConfig defaults)
    : key_(std::move(configmap)),
      defaults_(std::move(defaults)),
      current_(std::make_shared<const MeshConfig>(defaults_)) {}

std::shared_ptr<const MeshConfig> MeshWatcher::Update(const model::ConfigMap& configs) {
  model::ConfigPtr object;
  if (auto it = configs.find(key_); it != configs.end()) object = it->second;
  absl::MutexLock lock(&mu_);
  // Unchanged (an absent ConfigMap before the first one: the defaults, already in force).
  if (object == last_seen_) return current_;
  last_seen_ = object;
  std::string yaml;
  if (object) {
    const auto& data = object->As<k8s::v1::ConfigMap>().data();
    if (auto it = data.find("mesh"); it != data.end()) yaml = it->second;
  }
  auto applied = ApplyMeshConfig(yaml, defaults_);
  if (!applied.ok()) {
    error_ = absl::StrCat(applied.status().message(), " (the previous mesh stays in force)");
    return current_;
  }
  error_.clear();
  current_ = std::make_shared<const MeshConfig>(std::move(applied->mesh));
  unused_.clear();
  if (!applied->unused.empty()) {
    unused_ = absl::StrCat("mesh fields Keel reads but does not use: ", absl::StrJoin(applied->unused, ", "));
  }
  if (!applied->unknown_fields.empty()) {
    absl::StrAppend(&unused_, unused_.empty() ? "" : "; ", "unknown fields ignored (as istiod): ",
                    applied->unknown_fields);
  }
  return current_;
}

std::shared_ptr<const MeshConfig> MeshWatcher::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

std::string MeshWatcher::Error() const {
  absl::MutexLock lock(&mu_);
  return error_;
}

std::string MeshWatcher::Unused() const {
  absl::MutexLock lock(&mu_);
  return unused_;
}

}  // namespace keel::pilot::config
