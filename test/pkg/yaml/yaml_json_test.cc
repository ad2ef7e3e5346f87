#include "pkg/yaml/yaml_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace keel::yaml {
namespace {

using ::testing::HasSubstr;

// The JSON of the single document in `text`.
std::string OneDoc(const std::string& text) {
  auto docs = YamlToJson(text);
  EXPECT_TRUE(docs.ok()) << docs.status();
  if (!docs.ok() || docs->size() != 1) {
    ADD_FAILURE() << "want one document";
    return "";
  }
  return (*docs)[0].json;
}

TEST(YamlToJsonTest, MultipleDocumentsInOrderWithIndexAndLine) {
  auto docs = YamlToJson("a: 1\n---\nb: x\nc: y\n");
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[0].index, 0);
  EXPECT_EQ((*docs)[0].line, 1);
  EXPECT_EQ((*docs)[0].json, R"({"a":1})");
  EXPECT_EQ((*docs)[1].index, 1);
  EXPECT_EQ((*docs)[1].line, 3);
  EXPECT_EQ((*docs)[1].json, R"({"b":"x","c":"y"})");
}

TEST(YamlToJsonTest, EmptyDocumentsSkippedButCountedInIndex) {
  auto docs = YamlToJson("---\na: 1\n---\n---\n# only a comment\n---\nb: 2\n");
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[0].index, 0);
  EXPECT_EQ((*docs)[0].json, R"({"a":1})");
  EXPECT_EQ((*docs)[1].index, 3);
  EXPECT_EQ((*docs)[1].json, R"({"b":2})");
}

TEST(YamlToJsonTest, EmptyInputHasNoDocuments) {
  auto docs = YamlToJson("");
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_TRUE(docs->empty());
}

TEST(YamlToJsonTest, PlainScalarsAreTypedByCoreSchema) {
  EXPECT_EQ(OneDoc("i: 42\nneg: -7\nzero: 0\nplus: +5\n"), R"({"i":42,"neg":-7,"zero":0,"plus":5})");
  EXPECT_EQ(OneDoc("f: 1.5\ne: 1e3\ntrailing: 1.\nexp: 2.E5\n"),
            R"({"f":1.5,"e":1e3,"trailing":1.0,"exp":2.0E5})");
  EXPECT_EQ(OneDoc("t: true\nT: True\nf: false\nF: FALSE\n"), R"({"t":true,"T":true,"f":false,"F":false})");
  EXPECT_EQ(OneDoc("n: null\nt: ~\ne:\n"), R"({"n":null,"t":null,"e":null})");
}

TEST(YamlToJsonTest, PlainScalarsThatAreNotNumbersStayStrings) {
  EXPECT_EQ(OneDoc("v: 1.2.3\nh: 0x1F\nw: yes\nip: 10.0.0.1\nd: 7s\n"),
            R"({"v":"1.2.3","h":"0x1F","w":"yes","ip":"10.0.0.1","d":"7s"})");
}

TEST(YamlToJsonTest, QuotedScalarsStayStrings) {
  EXPECT_EQ(OneDoc("port: \"9080\"\nversion: \"1\"\nb: 'true'\nn: \"null\"\nf: '1.5'\n"),
            R"({"port":"9080","version":"1","b":"true","n":"null","f":"1.5"})");
}

TEST(YamlToJsonTest, ExplicitStringTagStaysString) {
  EXPECT_EQ(OneDoc("port: !!str 9080\n"), R"({"port":"9080"})");
}

TEST(YamlToJsonTest, NestedMapsAndSequences) {
  EXPECT_EQ(OneDoc("a:\n  b:\n  - 1\n  - c: d\n    e: [x, 2, {f: null}]\n  g: {}\n  h: []\n"),
            R"({"a":{"b":[1,{"c":"d","e":["x",2,{"f":null}]}],"g":{},"h":[]}})");
}

TEST(YamlToJsonTest, TopLevelSequence) {
  EXPECT_EQ(OneDoc("- a\n- 1\n"), R"(["a",1])");
}

TEST(YamlToJsonTest, StringsAreEscaped) {
  // YAML double-quoted escapes: \" \\ \n \t \r \x01 -> JSON escapes.
  EXPECT_EQ(OneDoc(R"(s: "a\"b\\c\nd\te\rf\x01g")"), R"({"s":"a\"b\\c\nd\te\rf\u0001g"})");
  EXPECT_EQ(OneDoc("block: |\n  line1\n  line2\n"), R"({"block":"line1\nline2\n"})");
}

TEST(YamlToJsonTest, KeysAreEscaped) {
  EXPECT_EQ(OneDoc(R"("k\"ey\n": 1)"), R"({"k\"ey\n":1})");
}

TEST(YamlToJsonTest, NonAsciiPassesThrough) {
  EXPECT_EQ(OneDoc("s: h\xc3\xa9llo\n"), "{\"s\":\"h\xc3\xa9llo\"}");
}

TEST(JsonEscapeTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonEscape("plain"), "plain");
  EXPECT_EQ(JsonEscape("\"\\"), "\\\"\\\\");
  EXPECT_EQ(JsonEscape("\n\r\t"), "\\n\\r\\t");
  EXPECT_EQ(JsonEscape(std::string("\x00\x1f", 2)), "\\u0000\\u001f");
  EXPECT_EQ(JsonEscape("\x7f/"), "\x7f/");  // DEL and '/' need no escape
}

TEST(YamlToJsonTest, SyntaxErrorIsInvalidArgumentWithLine) {
  auto docs = YamlToJson("a: 1\nb: 2\nc: [unclosed\n");
  ASSERT_FALSE(docs.ok());
  EXPECT_EQ(docs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(docs.status().message(), HasSubstr("line "));

  auto bad_indent = YamlToJson("a: 1\nb: 2\n  c: 3\n");
  ASSERT_FALSE(bad_indent.ok());
  EXPECT_EQ(bad_indent.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_indent.status().message(), HasSubstr("line 3"));
}

TEST(YamlToJsonTest, SyntaxErrorInLaterDocumentFailsWholeInput) {
  auto docs = YamlToJson("a: 1\n---\nb: 1\n b2: 2\n");
  ASSERT_FALSE(docs.ok());
  EXPECT_EQ(docs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(docs.status().message(), HasSubstr("line 4"));  // counted from the input's start
}

}  // namespace
}  // namespace keel::yaml
