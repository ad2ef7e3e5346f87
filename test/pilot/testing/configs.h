// Test helpers: config objects from YAML literals, as the file source reads them.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pilot/config/config_parser.h"
#include "pilot/model/config_store.h"
#include "pilot/model/push_context.h"
#include "pkg/yaml/yaml_json.h"

namespace keel::pilot::testing {

// Every document of `yaml` through ParseConfig; a document that does not parse
// fails the calling test.
inline std::vector<model::ConfigPtr> ParseAll(const std::string& yaml) {
  std::vector<model::ConfigPtr> out;
  auto docs = yaml::YamlToJson(yaml);
  if (!docs.ok()) {
    ADD_FAILURE() << "bad test YAML: " << docs.status();
    return out;
  }
  for (const auto& doc : *docs) {
    auto config = config::ParseConfig(doc.json, "test.yaml#" + std::to_string(doc.index));
    if (!config.ok()) {
      ADD_FAILURE() << "test object #" << doc.index << " does not parse: " << config.status();
      continue;
    }
    out.push_back(*config);
  }
  return out;
}

// The one object `yaml` holds.
inline model::ConfigPtr ParseOne(const std::string& yaml) {
  auto all = ParseAll(yaml);
  if (all.size() != 1) {
    ADD_FAILURE() << "want exactly one object, got " << all.size();
    return nullptr;
  }
  return all[0];
}

inline std::vector<model::ConfigEvent> Upserts(const std::vector<model::ConfigPtr>& configs) {
  std::vector<model::ConfigEvent> events;
  for (const auto& c : configs) events.push_back({c->key, c});
  return events;
}

// A store snapshot holding every object of `yaml`.
inline model::ConfigSnapshot SnapshotOf(const std::string& yaml) {
  model::ConfigStore store;
  store.Apply(Upserts(ParseAll(yaml)));
  return store.Snapshot();
}

// A Service `name` in namespace default, ClusterIP `cluster_ip`, selecting
// app=NAME, with one http port; a "---" separator follows.
inline std::string ServiceYaml(const std::string& name, int port, const std::string& cluster_ip) {
  return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name + ", namespace: default}\nspec:\n  clusterIP: " +
         cluster_ip + "\n  selector: {app: " + name + "}\n  ports: [{name: http, port: " + std::to_string(port) +
         "}]\n---\n";
}

// A ready Pod `name` in namespace default labelled app=`app`, at `ip`, with one
// container port; a "---" separator follows.
inline std::string PodYaml(const std::string& name, const std::string& app, const std::string& ip, int port) {
  return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: default, labels: {app: " + app +
         "}}\nspec: {containers: [{name: c, ports: [{containerPort: " + std::to_string(port) +
         "}]}]}\nstatus: {phase: Running, podIP: " + ip + ", conditions: [{type: Ready, status: \"True\"}]}\n---\n";
}

inline model::PushContextPtr BuildPush(const std::string& yaml, const model::MeshOptions& mesh = {}) {
  return model::PushContext::Build(SnapshotOf(yaml), mesh, /*version=*/1);
}

}  // namespace keel::pilot::testing
