#include "pkg/json/json_scan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace keel::json {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Members(absl::string_view text, absl::Status* st = nullptr) {
  std::vector<std::string> out;
  absl::Status s = ForEachMember(text, [&](const Member& m) {
    out.push_back(m.key + "=" + std::string(m.value));
    return absl::OkStatus();
  });
  if (st) *st = s;
  EXPECT_TRUE(st || s.ok()) << s;
  return out;
}

TEST(JsonScanTest, MembersAreSlicesOfTheInput) {
  EXPECT_THAT(Members(R"( {"a": 1, "b" : {"c": [1, {"d": "x}]"}]}, "e\"q": "s", "f": [], "g": {}, "h": null} )"),
              ElementsAre("a=1", R"(b={"c": [1, {"d": "x}]"}]})", "e\"q=\"s\"", "f=[]", "g={}", "h=null"));
  EXPECT_THAT(Members("{}"), ElementsAre());
}

TEST(JsonScanTest, ElementsAreSlicesOfTheInput) {
  std::vector<std::string> out;
  ASSERT_TRUE(ForEachElement(R"([1, "a,b", [2, [3]], {"k": [4]}, true])", [&](absl::string_view v) {
                out.emplace_back(v);
                return absl::OkStatus();
              }).ok());
  EXPECT_THAT(out, ElementsAre("1", "\"a,b\"", "[2, [3]]", R"({"k": [4]})", "true"));
}

TEST(JsonScanTest, DepthCostsNoStack) {
  const int depth = 1000000;
  const std::string deep = R"({"a": )" + std::string(depth, '[') + std::string(depth, ']') + "}";
  EXPECT_THAT(Members(deep), ::testing::SizeIs(1));
  EXPECT_EQ(NestingDepth(deep), depth + 1);
}

TEST(JsonScanTest, MalformedInputIsAnError) {
  for (const char* bad : {"", "[]", "{", R"({"a")", R"({"a":})", R"({"a":1,})", R"({"a":[1,]})", R"({"a":[1})",
                          R"({"a":"x)", R"({"a":1} x)", R"({a:1})", R"({"a":{"b" 1}})", R"({"a":[1 2]})",
                          R"({"a":#})"}) {
    absl::Status st;
    Members(bad, &st);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  absl::Status st;
  Members(R"({"a":[1 2]})", &st);
  EXPECT_THAT(st.message(), HasSubstr("malformed JSON at byte 8"));
}

TEST(JsonScanTest, CallbackErrorStopsTheWalk) {
  int calls = 0;
  absl::Status st = ForEachMember(R"({"a":1,"b":2})", [&](const Member&) {
    ++calls;
    return absl::CancelledError("enough");
  });
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(absl::IsCancelled(st));
}

TEST(JsonScanTest, StringValueDecodesEscapes) {
  EXPECT_EQ(*StringValue(R"("a\"b\\c\/d\n\t")"), "a\"b\\c/d\n\t");
  EXPECT_EQ(*StringValue(R"("\u00e9\ud83d\ude00")"), "\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_FALSE(StringValue("1").ok());
  EXPECT_FALSE(StringValue(R"("\x")").ok());
  EXPECT_FALSE(StringValue(R"("\u12")").ok());
}

}  // namespace
}  // namespace keel::json
