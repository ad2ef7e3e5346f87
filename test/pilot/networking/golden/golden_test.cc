// Golden tests: for every case under test/pilot/networking/testdata/<case>/
// (case.yaml: inputs and proxies), the xDS each proxy receives must equal
// <case>/<proxy>.golden.json. REFRESH_GOLDEN=1 rewrites the files.
#include <gtest/gtest.h>

#include <filesystem>

#include "golden/golden_util.h"

namespace keel::testing {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> CaseDirs() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(std::string(KEEL_TESTDATA_DIR) + "/pilot/networking/testdata")) {
    if (fs::exists(e.path() / "case.yaml")) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, ProxiesGetTheGoldenConfig) {
  auto c = LoadCase(GetParam(), KEEL_SOURCE_DIR);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_FALSE(c->proxies.empty()) << GetParam() << ": case.yaml declares no proxies";
  for (const auto& proxy : c->proxies) {
    auto rendered = RenderProxy(*c, proxy);
    ASSERT_TRUE(rendered.ok()) << proxy.name << ": " << rendered.status();
    const std::string diff = CompareGolden(GetParam() + "/" + proxy.name + ".golden.json", *rendered);
    EXPECT_EQ(diff, "") << diff;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenTest, ::testing::ValuesIn(CaseDirs()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = fs::path(info.param).filename().string();
                           for (auto& ch : name) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace keel::testing
