// The strict YAML subset: what it accepts becomes the JSON protobuf parses, what it does not is
// refused with its line and column.
#include "mcsinkctl/yaml.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsinkctl/config_input.h"

namespace mcsink::ctl {
namespace {

using ::testing::HasSubstr;

TEST(Yaml, NestedMappingsBecomeObjectsInDocumentOrder) {
  // given two levels of nesting and a key after the nested block
  const std::string yaml =
      "name: a\n"
      "target:\n"
      "  project: p\n"
      "  access_key_id:\n"
      "    env: AK\n"
      "  table: t\n"
      "mode: MODE_KEY\n";
  // when
  ASSERT_OK_AND_ASSIGN(const std::string json, YamlToJson(yaml, "c.yaml"));
  // then
  EXPECT_EQ(json,
            R"({"name":"a","target":{"project":"p","access_key_id":{"env":"AK"},"table":"t"},)"
            R"("mode":"MODE_KEY"})");
}

TEST(Yaml, CommentsBlankLinesAndTrailingSpacesAreIgnored) {
  const std::string yaml =
      "# a config\n"
      "\n"
      "name: a   # the name\n"
      "   # an indented comment\n"
      "topic: t  \n";
  ASSERT_OK_AND_ASSIGN(const std::string json, YamlToJson(yaml, "c.yaml"));
  EXPECT_EQ(json, R"({"name":"a","topic":"t"})");
}

TEST(Yaml, HashWithoutSpaceAndColonWithoutSpaceStayInPlainValues) {
  ASSERT_OK_AND_ASSIGN(const std::string json,
                       YamlToJson("endpoint: http://h:8080/api#x\nzone: GMT+08:00\n", "c.yaml"));
  EXPECT_EQ(json, R"({"endpoint":"http://h:8080/api#x","zone":"GMT+08:00"})");
}

TEST(Yaml, QuotedValuesKeepCommentsColonsAndSpaces) {
  const std::string yaml =
      "a: \"x # not a comment: really \"  # a comment\n"
      "b: 'it''s'\n"
      "\"quoted key\": ''\n";
  ASSERT_OK_AND_ASSIGN(const std::string json, YamlToJson(yaml, "c.yaml"));
  EXPECT_EQ(json, R"({"a":"x # not a comment: really ","b":"it's","quoted key":""})");
}

TEST(Yaml, DoubleQuotedEscapesAreDecodedAndReEscapedAsJson) {
  ASSERT_OK_AND_ASSIGN(const std::string json,
                       YamlToJson(R"(d: "tab\there \"q\" back\\slash \u00e9 nl\n")", "c.yaml"));
  EXPECT_EQ(json, "{\"d\":\"tab\\there \\\"q\\\" back\\\\slash \xc3\xa9 nl\\n\"}");
}

TEST(Yaml, NullTildeAndEmptyValuesBecomeNull) {
  ASSERT_OK_AND_ASSIGN(const std::string json,
                       YamlToJson("a: null\nb: ~\nc:\nd: NULL\ne: 'null'\n", "c.yaml"));
  EXPECT_EQ(json, R"({"a":null,"b":null,"c":null,"d":null,"e":"null"})");
}

TEST(Yaml, ScalarsStayStringsForProtobufToType) {
  ASSERT_OK_AND_ASSIGN(const std::string json, YamlToJson("n: 6\nb: true\n", "c.yaml"));
  EXPECT_EQ(json, R"({"n":"6","b":"true"})");
}

TEST(Yaml, LeadingDocumentMarkerAndCrLfAreAccepted) {
  ASSERT_OK_AND_ASSIGN(const std::string json, YamlToJson("---\r\na: 1\r\nb:\r\n  c: 2\r\n", "c"));
  EXPECT_EQ(json, R"({"a":"1","b":{"c":"2"}})");
}

TEST(Yaml, EmptyDocumentIsRefused) {
  EXPECT_THAT(YamlToJson("# only a comment\n\n", "c.yaml").status().message(),
              HasSubstr("c.yaml: the document is empty"));
}

struct Rejected {
  const char* name;
  const char* yaml;
  const char* where;  // "line:column"
  const char* what;
};

class YamlRejects : public ::testing::TestWithParam<Rejected> {};

TEST_P(YamlRejects, WithLineColumnAndReason) {
  const Rejected& r = GetParam();
  const auto result = YamlToJson(r.yaml, "in.yaml");
  ASSERT_FALSE(result.ok()) << "accepted: " << *result;
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr(std::string("in.yaml:") + r.where + ": "));
  EXPECT_THAT(result.status().message(), HasSubstr(r.what));
}

INSTANTIATE_TEST_SUITE_P(
    Yaml, YamlRejects,
    ::testing::Values(
        Rejected{"Sequence", "a:\n  - x\n", "2:3", "sequences"},
        Rejected{"SequenceAsValue", "a: - x\n", "1:4", "sequences"},
        Rejected{"FlowMapping", "a: {b: 1}\n", "1:4", "flow collections"},
        Rejected{"FlowSequence", "a: [1, 2]\n", "1:4", "flow collections"},
        Rejected{"Anchor", "a: &x 1\n", "1:4", "anchors"},
        Rejected{"Alias", "a: *x\n", "1:4", "aliases"},
        Rejected{"Tag", "a: !!str 1\n", "1:4", "tags"},
        Rejected{"LiteralBlock", "a: |\n  text\n", "1:4", "block scalars"},
        Rejected{"FoldedBlock", "a: >\n  text\n", "1:4", "block scalars"},
        Rejected{"TabIndent", "a:\n\tb: 1\n", "2:1", "tab"},
        Rejected{"DuplicateKey", "a: 1\nb: 2\na: 3\n", "3:1", "duplicate key 'a'"},
        Rejected{"DuplicateNestedKey", "t:\n  x: 1\n  x: 2\n", "3:3", "duplicate key 'x'"},
        Rejected{"MisalignedSibling", "t:\n    x: 1\n  y: 2\n", "3:3",
                 "matches no enclosing mapping"},
        Rejected{"MoreIndentedSibling", "t:\n  x: 1\n    y: 2\n", "3:5", "unexpected indentation"},
        Rejected{"ContinuationLine", "a: one\n  two\n", "2:3", "unexpected indentation"},
        Rejected{"SecondDocument", "a: 1\n---\nb: 2\n", "2:1", "only one document"},
        Rejected{"UnterminatedQuote", "a: \"open\n", "1:4", "does not end on this line"},
        Rejected{"InlineMapping", "a: b: c\n", "1:5", "cannot hold `: `"},
        Rejected{"NoSpaceAfterColon", "\"a\":b\n", "1:5", "expected a space after `:`"},
        Rejected{"NoColon", "just text\n", "1:1", "expected `key: value`"},
        Rejected{"TextAfterQuote", "a: \"x\" y\n", "1:8", "unexpected text after the quoted"},
        Rejected{"UnknownEscape", "a: \"\\q\"\n", "1:5", "unknown escape"},
        Rejected{"ComplexKey", "? a\n", "1:1", "complex keys"},
        Rejected{"ReservedStart", "a: @x\n", "1:4", "cannot start with `@`"}),
    [](const ::testing::TestParamInfo<Rejected>& p) { return p.param.name; });

TEST(ConfigText, YamlStringsBecomeTypedFieldsAndMapValuesStayStrings) {
  // given numbers and booleans written plainly, and a numeric Kafka property
  const std::string yaml =
      "name: c1\n"
      "concurrency: 12\n"
      "json_ignore_unknown_keys: true\n"
      "mode: MODE_VALUE\n"
      "kafka_properties:\n"
      "  linger.ms: 5\n"
      "kafka_secrets:\n"
      "  sasl.password:\n"
      "    file: /run/secrets/kafka\n";
  // when
  ASSERT_OK_AND_ASSIGN(const v1::ConnectorConfig config, ParseConfigText(yaml, "c.yaml"));
  // then
  EXPECT_EQ(config.name(), "c1");
  EXPECT_EQ(config.concurrency(), 12u);
  EXPECT_TRUE(config.json_ignore_unknown_keys());
  EXPECT_EQ(config.mode(), v1::MODE_VALUE);
  EXPECT_EQ(config.kafka_properties().at("linger.ms"), "5");
  EXPECT_EQ(config.kafka_secrets().at("sasl.password").file(), "/run/secrets/kafka");
}

TEST(ConfigText, UnknownFieldIsRefusedNamingIt) {
  const auto config = ParseConfigText("name: c1\nsource_topik: t\n", "c.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("c.yaml"));
  EXPECT_THAT(config.status().message(), HasSubstr("source_topik"));
}

TEST(ConfigText, JsonIsReadAsJson) {
  ASSERT_OK_AND_ASSIGN(const v1::ConnectorConfig config,
                       ParseConfigText(R"({"name": "c1", "concurrency": 6})", "c.json"));
  EXPECT_EQ(config.name(), "c1");
  EXPECT_EQ(config.concurrency(), 6u);
}

TEST(ConfigText, TheQuickstartExampleIsTheSeedConnector) {
  // given deploy/examples/kafka-maxcompute-sink.yaml, the file the quickstart creates
  ASSERT_OK_AND_ASSIGN(const v1::ConnectorConfig c, LoadConfigFile(MCSINK_EXAMPLE_YAML));
  // then it holds the seed's walk-through values
  EXPECT_EQ(c.name(), "kafka-maxcompute-sink");
  EXPECT_EQ(c.source_topic(), "maxcompute-test-input");
  EXPECT_EQ(c.consumer_group(), "connect-kafka-maxcompute-sink");
  EXPECT_EQ(c.concurrency(), 6u);
  EXPECT_EQ(c.initial_offset(), v1::INITIAL_OFFSET_EARLIEST);
  EXPECT_EQ(c.failure_policy(), v1::FAILURE_POLICY_CONTINUE);
  EXPECT_EQ(c.resource_creation(), v1::RESOURCE_CREATION_AUTO);
  EXPECT_EQ(c.mode(), v1::MODE_DEFAULT);
  EXPECT_EQ(c.format(), v1::FORMAT_TEXT);
  EXPECT_EQ(c.granularity(), v1::GRANULARITY_HOUR);
  EXPECT_EQ(c.time_zone(), "GMT+08:00");
  EXPECT_EQ(c.target().project(), "connector_test");
  EXPECT_EQ(c.target().table(), "test_kafka");
  EXPECT_EQ(c.target().access_key_secret().env(), "ALIBABA_CLOUD_ACCESS_KEY_SECRET");
  EXPECT_EQ(c.topics().config_topic(), "connect-config-kafka-maxcompute-sink");
}

}  // namespace
}  // namespace mcsink::ctl
