// InjectorWatcher: ConfigMap istio-sidecar-injector over the flags' configuration; a
// bad ConfigMap keeps the last good one in force and says why; deleting it restores
// the flags' alone.
#include "pilot/config/injector_watcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "keel/k8s/v1/objects.pb.h"

namespace keel::pilot::config {
namespace {

using ::testing::HasSubstr;

const model::ConfigKey kKey{model::Kind::kConfigMap, "istio-system", "istio-sidecar-injector"};

model::ConfigPtr ConfigMap(const std::string& values, const std::string& config = "") {
  auto cm = std::make_shared<keel::k8s::v1::ConfigMap>();
  (*cm->mutable_data())["values"] = values;
  if (!config.empty()) (*cm->mutable_data())["config"] = config;
  auto object = std::make_shared<model::Config>();
  object->key = kKey;
  object->body = std::move(cm);
  return object;
}

inject::InjectionConfig Flags() {
  inject::InjectionConfig config;
  config.istio_namespace = "istio-system";
  config.cluster_domain = "corp.local";
  return config;
}

TEST(InjectorWatcherTest, TheConfigMapAppliesOverTheFlags) {
  InjectorWatcher watcher(kKey);
  EXPECT_EQ(watcher.Apply(nullptr, Flags()).log_level, "warning");
  auto cm = ConfigMap(R"({"global": {"proxy": {"logLevel": "debug"}}})", "policy: disabled");
  inject::InjectionConfig config = watcher.Apply(cm, Flags());
  EXPECT_EQ(config.log_level, "debug");
  EXPECT_FALSE(config.policy_enabled);
  EXPECT_EQ(config.cluster_domain, "corp.local");  // the ConfigMap does not set it: the flag's
  EXPECT_EQ(watcher.Error(), "");
}

TEST(InjectorWatcherTest, ABadConfigMapKeepsTheLastGoodAndSaysWhy) {
  InjectorWatcher watcher(kKey);
  watcher.Apply(ConfigMap(R"({"global": {"proxy": {"logLevel": "debug"}}})"), Flags());
  inject::InjectionConfig config = watcher.Apply(ConfigMap(R"({"global": {"proxy": {"statusPort": "x"}}})"), Flags());
  EXPECT_EQ(config.log_level, "debug");
  EXPECT_EQ(config.status_port, 15020);
  EXPECT_THAT(watcher.Error(), HasSubstr("values: global.proxy.statusPort: want a non-negative integer"));
  EXPECT_THAT(watcher.Error(), HasSubstr("stays in force"));
  // Deleted: the flags' alone, and no error.
  config = watcher.Apply(nullptr, Flags());
  EXPECT_EQ(config.log_level, "warning");
  EXPECT_EQ(watcher.Error(), "");
}

TEST(InjectorWatcherTest, ABadConfigMapFirstLeavesTheFlags) {
  InjectorWatcher watcher(kKey);
  inject::InjectionConfig config = watcher.Apply(ConfigMap("{}", "policy: sometimes"), Flags());
  EXPECT_TRUE(config.policy_enabled);
  EXPECT_THAT(watcher.Error(), HasSubstr("config: policy"));
}

}  // namespace
}  // namespace keel::pilot::config
