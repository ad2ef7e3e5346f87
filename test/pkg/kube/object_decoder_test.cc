#include "pkg/kube/object_decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace keel::kube {
namespace {

using ::testing::HasSubstr;

std::string Nested(int levels) {
  std::string out;
  for (int i = 0; i < levels - 1; ++i) out += R"({"a":)";
  return out + "{}" + std::string(levels - 1, '}');
}

std::string Object(const std::string& name, const std::string& rest) {
  return R"({"metadata":{"name":")" + name + R"(","namespace":"ns","resourceVersion":"7"})" + rest + "}";
}

TEST(ObjectDecoderTest, ListItemsDecodeEachOnItsOwn) {
  const std::string body = R"({"kind":"VirtualServiceList","metadata":{"resourceVersion":"10","continue":"c1"},"items":[)" +
                           Object("good", R"(,"spec":{"hosts":["a"]})") + "," +
                           Object("deep", R"(,"spec":)" + Nested(120)) + "," +
                           Object("status", R"(,"spec":{},"status":)" + Nested(300)) + "]}";
  auto list = DecodeList(body, {});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->resource_version, "10");
  EXPECT_EQ(list->continue_token, "c1");
  ASSERT_EQ(list->items.size(), 3u);
  EXPECT_TRUE(list->items[0].error.ok());
  EXPECT_EQ(list->items[0].object.fields().at("spec").struct_value().fields().at("hosts").list_value().values(0).string_value(), "a");
  EXPECT_EQ(list->items[1].name, "deep");
  EXPECT_EQ(list->items[1].ns, "ns");
  EXPECT_EQ(list->items[1].resource_version, "7");
  EXPECT_THAT(list->items[1].error.message(), HasSubstr("nested 121 levels deep, more than the limit of 32"));
  EXPECT_TRUE(list->items[2].error.ok()) << "status is not read";
  EXPECT_EQ(list->items[2].object.fields().count("status"), 0u);
}

TEST(ObjectDecoderTest, DepthLimitIsWhatProtobufParses) {
  DecodedObject at_limit = DecodeObject(Object("ok", R"(,"spec":)" + Nested(31)), {});  // 32 levels with the object
  EXPECT_TRUE(at_limit.error.ok()) << at_limit.error;
  DecodedObject over = DecodeObject(Object("over", R"(,"spec":)" + Nested(32)), {});
  EXPECT_THAT(over.error.message(), HasSubstr("nested 33 levels deep, more than the limit of 32"));
  // Where protobuf itself stops: the limit must stay below it.
  DecodeOptions unlimited;
  unlimited.max_depth = 1000;
  EXPECT_TRUE(DecodeObject(Object("pb", R"(,"spec":)" + Nested(33)), unlimited).error.ok());
  EXPECT_THAT(DecodeObject(Object("pb", R"(,"spec":)" + Nested(34)), unlimited).error.message(),
              HasSubstr("not valid JSON"));
}

// Past our own check, protobuf's parser still refuses; the object is skipped,
// not the list.
TEST(ObjectDecoderTest, ProtobufDepthLimitIsASkippedObject) {
  DecodeOptions options;
  options.max_depth = 1000;
  DecodedObject o = DecodeObject(Object("deep", R"(,"spec":)" + Nested(200)), options);
  EXPECT_EQ(o.name, "deep");
  EXPECT_THAT(o.error.message(), HasSubstr("not valid JSON"));
  EXPECT_TRUE(o.object.fields().empty());
}

TEST(ObjectDecoderTest, ManagedFieldsAreDroppedUnread) {
  // What the API server records after a manager set a deeply nested status.
  const std::string text = R"({"metadata":{"name":"a","managedFields":[{"manager":"m","fieldsV1":)" + Nested(150) +
                           R"(}],"labels":{"x":"y"}},"spec":{}})";
  DecodedObject o = DecodeObject(text, {});
  ASSERT_TRUE(o.error.ok()) << o.error;
  const auto& meta = o.object.fields().at("metadata").struct_value().fields();
  EXPECT_EQ(meta.count("managedFields"), 0u);
  EXPECT_EQ(meta.at("labels").struct_value().fields().at("x").string_value(), "y");
  EXPECT_EQ(meta.at("name").string_value(), "a");
}

TEST(ObjectDecoderTest, AnItemThatIsNotJsonIsSkipped) {
  auto list = DecodeList(R"({"metadata":{},"items":[)" + Object("x", R"(,"spec":{"a":tru})") + "]}", {});
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->items.size(), 1u);
  EXPECT_EQ(list->items[0].name, "x");
  EXPECT_THAT(list->items[0].error.message(), HasSubstr("not valid JSON"));
}

TEST(ObjectDecoderTest, ABrokenListIsAnError) {
  EXPECT_FALSE(DecodeList("", {}).ok());
  EXPECT_FALSE(DecodeList(R"({"metadata":{}})", {}).ok());
  EXPECT_FALSE(DecodeList(R"({"items":[{"metadata":{}})", {}).ok());
  EXPECT_TRUE(DecodeList(R"({"items":null})", {}).ok());
}

TEST(ObjectDecoderTest, WatchEventsKeepTheStatusOfAnError) {
  auto e = DecodeWatchEvent(R"({"type":"ERROR","object":{"kind":"Status","status":"Failure","code":410}})", {});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->type, "ERROR");
  EXPECT_EQ(e->object.object.fields().at("status").string_value(), "Failure");
  EXPECT_EQ(e->object.object.fields().at("code").number_value(), 410);

  auto added = DecodeWatchEvent(R"({"type":"ADDED","object":)" + Object("a", R"(,"status":{"x":1})") + "}", {});
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(added->object.object.fields().count("status"), 0u);
  EXPECT_FALSE(DecodeWatchEvent(R"({"type":"ADDED"})", {}).ok());
  EXPECT_FALSE(DecodeWatchEvent("not json", {}).ok());
}

}  // namespace
}  // namespace keel::kube
