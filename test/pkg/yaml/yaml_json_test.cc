#include "pkg/yaml/yaml_json.h"

#include "pkg/yaml/core_schema.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace keel::yaml {
namespace {

using ::testing::AllOf;
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


// The message of the error YamlToJson gives for `text`.
std::string ErrorOf(const std::string& text, const YamlLimits& limits = {}) {
  auto docs = YamlToJson(text, limits);
  EXPECT_FALSE(docs.ok()) << "converted: " << (docs.ok() && !docs->empty() ? (*docs)[0].json : "");
  if (docs.ok()) return "";
  EXPECT_EQ(docs.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(docs.status().message());
}

TEST(YamlToJsonTest, AliasesAreExpandedInPlace) {
  EXPECT_EQ(OneDoc("a: &x {k: 1, l: [2, s]}\nb: *x\n"), R"({"a":{"k":1,"l":[2,"s"]},"b":{"k":1,"l":[2,"s"]}})");
  EXPECT_EQ(OneDoc("a: &n 5\nb: &q '5'\nc: [*n, *q]\n"), R"({"a":5,"b":"5","c":[5,"5"]})");
  EXPECT_EQ(OneDoc("a: &e\nb: *e\n"), R"({"a":null,"b":null})");
  // A key's anchor and an alias used as a key.
  EXPECT_EQ(OneDoc("&k name: 1\nother: *k\n*k : 2\n"), R"({"name":1,"other":"name","name":2})");
}

TEST(YamlToJsonTest, AnchorsDoNotCrossDocuments) {
  EXPECT_THAT(ErrorOf("a: &x 1\n---\nb: *x\n"), HasSubstr("line 3"));
}

// `a: &x [*x]` was a sequence containing itself in yaml-cpp's node graph; the
// recursive walk followed it until SIGSEGV.
TEST(YamlToJsonTest, AliasCycleIsRefusedWithItsLine) {
  std::string msg = ErrorOf("a: &x [*x]\n");
  EXPECT_THAT(msg, HasSubstr("line 1, column 8"));
  EXPECT_THAT(msg, HasSubstr("alias *x refers to a node that contains it (a cycle)"));
  EXPECT_THAT(ErrorOf("kind: X\nspec: &top\n  a:\n    b: [1, *top]\n"), AllOf(HasSubstr("line 4"), HasSubstr("*top")));
  EXPECT_THAT(ErrorOf("x: &m {k: *m}\n"), HasSubstr("cycle"));
}

// Nine levels of ten aliases each would be 10^9 nodes.
TEST(YamlToJsonTest, BillionLaughsIsRefused) {
  std::string text = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i <= 9; ++i) {
    const std::string prev = "*l" + std::to_string(i - 1);
    text += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) text += (j ? ", " : "") + prev;
    text += "]\n";
  }
  std::string msg = ErrorOf(text);
  EXPECT_THAT(msg, HasSubstr("aliases expand to more than 100000 nodes"));
  EXPECT_THAT(msg, HasSubstr("line 5"));  // l4: its aliases add 111,110 nodes
}

TEST(YamlToJsonTest, AliasNodeLimitIsConfigurable) {
  YamlLimits limits;
  limits.max_alias_nodes = 5;
  const std::string text = "a: &a [1, 2]\nb: [*a, *a]\n";  // each *a adds 3 nodes
  EXPECT_THAT(ErrorOf(text, limits), HasSubstr("line 2, column 9: aliases expand to more than 5 nodes (at *a)"));
  limits.max_alias_nodes = 6;
  EXPECT_TRUE(YamlToJson(text, limits).ok());
}

TEST(YamlToJsonTest, ScalarAliasesCountTowardsTheJsonSize) {
  YamlLimits limits;
  limits.max_json_bytes = 10000;
  std::string text = "a: &big " + std::string(1000, 'x') + "\nb: [";
  for (int i = 0; i < 20; ++i) text += (i ? ", " : "") + std::string("*big");
  text += "]\n";
  EXPECT_THAT(ErrorOf(text, limits), HasSubstr("the JSON would be larger than 10000 bytes"));
}

// yaml-cpp 0.7 starts empty document after empty document at the ',' forever:
// before, LoadAll never returned (and grew without bound).
TEST(YamlToJsonTest, ParserThatStopsMakingProgressIsRefused) {
  EXPECT_THAT(ErrorOf("\"a\",b"), HasSubstr("line 1, column 4: the YAML parser stopped making progress here"));
  EXPECT_THAT(ErrorOf("kind: x\n---\n\"a\", b\n"), HasSubstr("line 3, column 4: the YAML parser stopped"));
}

// Nested anchors each keep a copy of what they hold: that counts too.
TEST(YamlToJsonTest, AnchoredCopiesCountTowardsTheJsonSize) {
  YamlLimits limits;
  limits.max_json_bytes = 5000;
  std::string text = "a: ";
  for (int i = 0; i < 50; ++i) text += "&a" + std::to_string(i) + " [";
  text += "\"" + std::string(500, 'x') + "\"" + std::string(50, ']') + "\n";
  EXPECT_THAT(ErrorOf(text, limits), HasSubstr("the JSON and its anchored copies would be larger than 5000 bytes"));
  limits.max_json_bytes = 100000;
  EXPECT_TRUE(YamlToJson(text, limits).ok());
}

// std::regex recursed once per character: a 40,000-digit scalar overflowed the stack.
TEST(YamlToJsonTest, HugeNumberIsRefusedWithItsLine) {
  const std::string digits(40000, '7');
  std::string msg = ErrorOf("apiVersion: v1\nkind: Service\nspec:\n  n: " + digits + "\n");
  EXPECT_THAT(msg, HasSubstr("line 4, column 6: number 77777777777777777777... (40000 characters) is too large"));
  EXPECT_LT(msg.size(), 300u) << "the error must not quote the whole scalar";
  // Quoted, it is a string; a long plain scalar that is not a number is one too.
  EXPECT_EQ(OneDoc("n: \"" + digits + "\"\n"), "{\"n\":\"" + digits + "\"}");
  EXPECT_EQ(OneDoc("n: " + digits + "x\n"), "{\"n\":\"" + digits + "x\"}");
  // A long number a double holds stays a number.
  const std::string fits = "1" + std::string(300, '0');
  EXPECT_EQ(OneDoc("n: " + fits + "\n"), "{\"n\":" + fits + "}");
  EXPECT_EQ(OneDoc("n: 0." + digits + "\n"), "{\"n\":0." + digits + "}");
}

TEST(YamlToJsonTest, NestingDeeperThanTheLimitIsRefused) {
  auto nested = [](int depth) { return "a: " + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "\n"; };
  EXPECT_TRUE(YamlToJson(nested(100)).ok());  // the map and 99 sequences
  EXPECT_THAT(ErrorOf(nested(101)), HasSubstr("line 1, column 103: nested more than 100 levels deep"));
  // Far deeper than yaml-cpp's own recursion guard (2,000): refused, no crash.
  EXPECT_THAT(ErrorOf(nested(100000)), HasSubstr("nested more than 100 levels deep"));
  // Block style counts the same.
  std::string block;
  for (int i = 0; i < 101; ++i) block += std::string(i, ' ') + "k:\n";
  EXPECT_THAT(ErrorOf(block), HasSubstr("line 101"));
}

TEST(YamlToJsonTest, AnAliasCannotNestDeeperThanTheLimit) {
  YamlLimits limits;
  limits.max_depth = 4;
  EXPECT_TRUE(YamlToJson("a: &x [[1]]\nb: [*x]\n", limits).ok());  // {b: [[[1]]]}: 4 levels
  EXPECT_THAT(ErrorOf("a: &x [[1]]\nb: [[*x]]\n", limits), HasSubstr("line 2, column 6: nested more than 4 levels"));
}

TEST(YamlToJsonTest, InputLargerThanTheLimitIsRefusedUnread) {
  YamlLimits limits;
  limits.max_input_bytes = 64;
  EXPECT_THAT(ErrorOf("a: " + std::string(100, 'x') + "\n", limits), HasSubstr("104 bytes, more than the limit of 64"));
  EXPECT_TRUE(YamlToJson("a: " + std::string(50, 'x') + "\n", limits).ok());
}

TEST(YamlToJsonTest, CollectionKeysAreRefused) {
  EXPECT_THAT(ErrorOf("? [a, b]\n: c\n"), HasSubstr("a mapping key must be a scalar"));
  EXPECT_THAT(ErrorOf("a: &s [1]\n*s : 2\n"), HasSubstr("line 2, column 1: a mapping key must be a scalar"));
}

TEST(YamlToJsonTest, NullKeysReadAsNull) { EXPECT_EQ(OneDoc("~: 1\n"), R"({"null":1})"); }

TEST(CoreSchemaTest, ClassifiesWithoutRegex) {
  EXPECT_EQ(ClassifyPlainScalar(""), PlainScalarType::kNull);
  EXPECT_EQ(ClassifyPlainScalar("NULL"), PlainScalarType::kNull);
  EXPECT_EQ(ClassifyPlainScalar("nULL"), PlainScalarType::kString);
  EXPECT_EQ(ClassifyPlainScalar("TRUE"), PlainScalarType::kBool);
  EXPECT_EQ(ClassifyPlainScalar("yes"), PlainScalarType::kString);  // YAML 1.1 only
  for (const char* n : {"0", "-0", "+12", "1.", "1.50", "2e5", "2E-5", "-1.5e+3", "0.0"}) {
    EXPECT_EQ(ClassifyPlainScalar(n), PlainScalarType::kNumber) << n;
  }
  for (const char* s : {"007", "0x1F", "0o17", ".5", ".inf", ".nan", "1e", "1e+", "+", "-", "1.2.3", "1_000", "1 ",
                        "e5", "--1"}) {
    EXPECT_EQ(ClassifyPlainScalar(s), PlainScalarType::kString) << s;
  }
  EXPECT_EQ(NumberToJson("+5"), "5");
  EXPECT_EQ(NumberToJson("2.E5"), "2.0E5");
  EXPECT_TRUE(NumberFitsDouble("1e308"));
  EXPECT_FALSE(NumberFitsDouble("1e309"));
  EXPECT_FALSE(NumberFitsDouble("-" + std::string(400, '9')));
}

}  // namespace
}  // namespace keel::yaml
