#include "golden/golden_util.h"

#include <google/protobuf/util/json_util.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "envoy/config/core/v3/base.pb.h"
#include "pilot/config/mesh_watcher.h"
#include "pilot/config/config_parser.h"
#include "pilot/model/config_store.h"
#include "pilot/model/proxy.h"
#include "pilot/model/push_context.h"
#include "pilot/xds/generator.h"
#include "pilot/xds/resource_types.h"
#include "pkg/yaml/yaml_json.h"

namespace keel::testing {
namespace {

namespace fs = std::filesystem;
using google::protobuf::Value;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

void AppendCanonical(const Value& v, int indent, std::string* out) {
  const std::string pad(indent, ' ');
  switch (v.kind_case()) {
    case Value::kStructValue: {
      const auto& fields = v.struct_value().fields();
      if (fields.empty()) return out->append("{}"), void();
      std::map<std::string, const Value*> sorted;
      for (const auto& [k, f] : fields) sorted[k] = &f;
      out->append("{\n");
      size_t i = 0;
      for (const auto& [k, f] : sorted) {
        absl::StrAppend(out, pad, "  \"", yaml::JsonEscape(k), "\": ");
        AppendCanonical(*f, indent + 2, out);
        absl::StrAppend(out, ++i < sorted.size() ? ",\n" : "\n");
      }
      absl::StrAppend(out, pad, "}");
      return;
    }
    case Value::kListValue: {
      const auto& values = v.list_value().values();
      if (values.empty()) return out->append("[]"), void();
      out->append("[\n");
      for (int i = 0; i < values.size(); ++i) {
        out->append(pad + "  ");
        AppendCanonical(values[i], indent + 2, out);
        absl::StrAppend(out, i + 1 < values.size() ? ",\n" : "\n");
      }
      absl::StrAppend(out, pad, "]");
      return;
    }
    default: {
      std::string scalar;
      (void)google::protobuf::util::MessageToJsonString(v, &scalar);
      out->append(scalar);
    }
  }
}

Value ToValue(const google::protobuf::Message& m) {
  std::string json;
  Value v;
  (void)google::protobuf::util::MessageToJsonString(m, &json);
  (void)google::protobuf::util::JsonStringToMessage(json, &v);
  return v;
}

// Every string under `key` anywhere in `v`.
void CollectStrings(const Value& v, const std::string& key, std::set<std::string>* out) {
  if (v.has_struct_value()) {
    for (const auto& [k, f] : v.struct_value().fields()) {
      if (k == key && f.kind_case() == Value::kStringValue) out->insert(f.string_value());
      CollectStrings(f, key, out);
    }
  } else if (v.has_list_value()) {
    for (const auto& e : v.list_value().values()) CollectStrings(e, key, out);
  }
}

// Cluster names routes refer to: "cluster" fields and weightedClusters' "name"s.
void CollectClusters(const Value& v, std::set<std::string>* out) {
  if (v.has_struct_value()) {
    for (const auto& [k, f] : v.struct_value().fields()) {
      if (k == "cluster" && f.kind_case() == Value::kStringValue) out->insert(f.string_value());
      if (k == "weightedClusters") CollectStrings(f, "name", out);
      CollectClusters(f, out);
    }
  } else if (v.has_list_value()) {
    for (const auto& e : v.list_value().values()) CollectClusters(e, out);
  }
}

std::string FieldString(const Value& v, const std::string& key) {
  if (!v.has_struct_value()) return "";
  auto it = v.struct_value().fields().find(key);
  return it == v.struct_value().fields().end() ? "" : it->second.string_value();
}

}  // namespace

std::string CanonicalJson(const Value& value) {
  std::string out;
  AppendCanonical(value, 0, &out);
  return out + "\n";
}

absl::StatusOr<GoldenCase> LoadCase(const std::string& dir, const std::string& repo_root) {
  GoldenCase c;
  c.dir = dir;
  c.name = fs::path(dir).filename().string();
  try {
    YAML::Node root = YAML::LoadFile(dir + "/case.yaml");
    for (const auto& in : root["inputs"]) {
      std::string p = in.as<std::string>();
      fs::path path = absl::StartsWith(p, "//") ? fs::path(repo_root) / p.substr(2) : fs::path(dir) / p;
      if (fs::is_directory(path)) {
        std::vector<std::string> files;
        for (const auto& e : fs::directory_iterator(path)) {
          if (e.path().extension() == ".yaml") files.push_back(e.path().string());
        }
        std::sort(files.begin(), files.end());
        c.inputs.insert(c.inputs.end(), files.begin(), files.end());
      } else {
        c.inputs.push_back(path.string());
      }
    }
    if (root["mesh"]) c.mesh = root["mesh"].as<std::string>();
    for (const auto& p : root["proxies"]) {
      GoldenProxy proxy;
      proxy.name = p["name"].as<std::string>();
      proxy.id = p["id"].as<std::string>();
      for (const auto& kv : p["metadata"]) proxy.metadata[kv.first.as<std::string>()] = kv.second.as<std::string>();
      for (const auto& kv : p["labels"]) proxy.labels[kv.first.as<std::string>()] = kv.second.as<std::string>();
      for (const auto& l : p["listeners"]) proxy.listeners.push_back(l.as<std::string>());
      c.proxies.push_back(std::move(proxy));
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(dir, "/case.yaml: ", e.what()));
  }
  return c;
}

absl::StatusOr<std::string> RenderProxy(const GoldenCase& c, const GoldenProxy& golden) {
  pilot::model::ConfigStore store;
  std::vector<pilot::model::ConfigEvent> events;
  for (const auto& file : c.inputs) {
    auto docs = yaml::YamlToJson(ReadFile(file));
    if (!docs.ok()) return absl::InvalidArgumentError(absl::StrCat(file, ": ", docs.status().message()));
    for (const auto& doc : *docs) {
      auto config = pilot::config::ParseConfig(doc.json, fs::path(file).filename().string());
      if (absl::IsUnimplemented(config.status())) continue;
      if (!config.ok()) return absl::InvalidArgumentError(absl::StrCat(file, ": ", config.status().message()));
      events.push_back({(*config)->key, *config});
    }
  }
  store.Apply(events);
  pilot::model::MeshOptions mesh;
  if (!c.mesh.empty()) {
    auto applied = pilot::config::ApplyMeshConfig(c.mesh, pilot::model::DefaultMeshConfig());
    if (!applied.ok()) return absl::InvalidArgumentError(absl::StrCat(c.dir, "/case.yaml: ", applied.status().message()));
    mesh.config = std::make_shared<const pilot::model::MeshConfig>(std::move(applied->mesh));
  }
  auto push = pilot::model::PushContext::Build(store.Snapshot(), mesh, 1);

  envoy::config::core::v3::Node node;
  node.set_id(golden.id);
  auto* md = node.mutable_metadata()->mutable_fields();
  for (const auto& [k, v] : golden.metadata) (*md)[k].set_string_value(v);
  if (!golden.labels.empty()) {
    auto* labels = (*md)["LABELS"].mutable_struct_value()->mutable_fields();
    for (const auto& [k, v] : golden.labels) (*labels)[k].set_string_value(v);
  }
  auto proxy = pilot::model::ParseProxy(node);
  if (!proxy.ok()) return proxy.status();
  // Served as to a proxy authenticated as its namespace's gateway, allowed to read
  // its Secrets (sds_generator.h; gateway_test covers the refusals).
  proxy->verified_identity = pilot::model::ProxyIdentity{proxy->ns, "golden"};

  // Through the cross-push cache, as AdsServer serves (xds_cache_test compares it with a fresh build).
  pilot::xds::XdsCache cache;
  cache.BeginPush(*push, pilot::xds::PushRequest{});
  const pilot::xds::GeneratorMap generators = pilot::xds::MakeGenerators(&cache, [](const pilot::model::ProxyIdentity&) { return absl::OkStatus(); });
  auto generate = [&](const std::string& type, const pilot::xds::WatchedResource& watch) {
    Value list;
    list.mutable_list_value();
    auto it = generators.find(type);
    if (it == generators.end()) return list;
    for (const auto& r : it->second->Generate(*proxy, *push, watch)) {
      *list.mutable_list_value()->add_values() = ToValue(r.resource->any);
    }
    return list;
  };
  auto names = [](const std::set<std::string>& s) {
    pilot::xds::WatchedResource w;
    w.names = s;
    return w;
  };

  pilot::xds::WatchedResource lds;
  lds.names = pilot::xds::SubscribedNames(golden.listeners.begin(), golden.listeners.end());
  lds.wildcard = golden.listeners.empty();
  Value listeners = generate(pilot::xds::kListenerType, lds);
  std::set<std::string> route_names;
  CollectStrings(listeners, "routeConfigName", &route_names);
  Value routes = route_names.empty() ? Value() : generate(pilot::xds::kRouteType, names(route_names));
  routes.mutable_list_value();

  pilot::xds::WatchedResource cds;
  if (proxy->proxyless_grpc) {
    std::set<std::string> cluster_names;
    CollectClusters(routes, &cluster_names);
    cds = names(cluster_names);
  } else {
    cds.wildcard = true;
  }
  Value clusters = cds.wildcard || !cds.names.empty() ? generate(pilot::xds::kClusterType, cds) : Value();
  clusters.mutable_list_value();
  std::set<std::string> eds_names;
  for (const auto& cl : clusters.list_value().values()) {
    if (FieldString(cl, "type") != "EDS") continue;
    std::string service_name;
    auto eds = cl.struct_value().fields().find("edsClusterConfig");
    if (eds != cl.struct_value().fields().end()) service_name = FieldString(eds->second, "serviceName");
    eds_names.insert(service_name.empty() ? FieldString(cl, "name") : service_name);
  }
  Value endpoints = eds_names.empty() ? Value() : generate(pilot::xds::kEndpointType, names(eds_names));
  endpoints.mutable_list_value();
  std::set<std::string> secret_names, all_sds;
  CollectStrings(listeners, "name", &all_sds);  // filtered below to SDS credential names
  for (const auto& n : all_sds) {
    if (absl::StartsWith(n, "kubernetes://")) secret_names.insert(n);
  }
  Value secrets = secret_names.empty() ? Value() : generate(pilot::xds::kSecretType, names(secret_names));
  secrets.mutable_list_value();

  Value out;
  auto* f = out.mutable_struct_value()->mutable_fields();
  (*f)["listeners"] = listeners;
  (*f)["routes"] = routes;
  (*f)["clusters"] = clusters;
  (*f)["endpoints"] = endpoints;
  (*f)["secrets"] = secrets;
  return CanonicalJson(out);
}

std::string CompareGolden(const std::string& path, const std::string& actual) {
  const char* refresh = std::getenv("REFRESH_GOLDEN");
  if (refresh && std::string(refresh) == "1") {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << actual;
    return "";
  }
  std::string expected = fs::exists(path) ? ReadFile(path) : "";
  if (expected == actual) return "";
  const std::string actual_path = (fs::temp_directory_path() / (fs::path(path).filename().string() + ".actual")).string();
  std::ofstream(actual_path, std::ios::binary | std::ios::trunc) << actual;
  std::string cmd = absl::StrCat("diff -u '", path, "' '", actual_path, "' 2>&1 | head -200");
  std::string diff;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) diff.append(buf, n);
    pclose(p);
  }
  return absl::StrCat(expected.empty() ? "golden file missing: " : "golden mismatch: ", path,
                      " (REFRESH_GOLDEN=1 rewrites it)\n", diff);
}

}  // namespace keel::testing
