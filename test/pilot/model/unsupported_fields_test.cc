#include "pilot/model/unsupported_fields.h"

#include <gtest/gtest.h>

#include <gmock/gmock.h>

#include "test/pilot/testing/configs.h"

namespace keel::pilot::model {
namespace {

using ::testing::ElementsAre;

// Every path of every row names a real field: a typo would hide a field Keel ignores.
TEST(UnsupportedFieldsTest, EveryTranslatedFieldOfTheRegistryResolves) {
  int checked = 0;
  for (const KindSchema& schema : AllKinds()) {
    EXPECT_EQ(FirstUnresolvedTranslatedField(schema), "") << schema.name;
    checked += static_cast<int>(schema.translated_fields.size());
  }
  EXPECT_GT(checked, 0);
}

std::vector<std::string> Unsupported(const std::string& yaml) {
  auto configs = ::keel::pilot::testing::ParseAll(yaml);
  EXPECT_EQ(configs.size(), 1u);
  return configs.empty() ? std::vector<std::string>{} : configs[0]->unsupported_fields;
}

TEST(UnsupportedFieldsTest, NamesTheOutermostUntranslatedFieldOnce) {
  EXPECT_THAT(Unsupported(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: [ratings]
  http:
  - match: [{name: first, uri: {prefix: /a}}]
    route: [{destination: {host: ratings, subset: v1}, weight: 100}]
    mirror: {host: shadow, port: {number: 80}}
  - match: [{name: second}]
    route: [{destination: {host: ratings}}]
    retries: {attempts: 3, retryRemoteLocalities: true}
)"),
              ElementsAre("http.match.name", "http.retries.retryRemoteLocalities"));

  // A whole untranslated message is named once, not field by field; the same field
  // under the translated trafficPolicy's four places is covered at each.
  EXPECT_THAT(Unsupported(R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr, namespace: default}
spec:
  host: ratings
  trafficPolicy:
    tunnel: {protocol: CONNECT, targetHost: egress, targetPort: 8080}
    portLevelSettings: [{port: {number: 80}, loadBalancer: {simple: ROUND_ROBIN}}]
  subsets:
  - name: v1
    trafficPolicy: {portLevelSettings: [{port: {number: 80}, outlierDetection: {interval: 5s}}]}
)"),
              ElementsAre("trafficPolicy.tunnel"));
}

TEST(UnsupportedFieldsTest, NothingForTranslatedOnlyObjectsOrUntranslatedKinds) {
  EXPECT_TRUE(Unsupported(R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr, namespace: default}
spec:
  host: ratings
  subsets: [{name: v1, labels: {version: v1}}]
)").empty());
  // The kind itself is what push_status reports for these.
  EXPECT_TRUE(Unsupported(R"(
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: t, namespace: default}
spec: {tracing: [{randomSamplingPercentage: 10}]}
)").empty());
}

}  // namespace
}  // namespace keel::pilot::model
