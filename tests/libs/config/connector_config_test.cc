#include "mcsink/config/connector_config.h"

#include <cstdlib>

#include <cstdio>
#include <fstream>

#include "gtest/gtest.h"
#include "mcsink/config/secrets.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink::config {
namespace {

// The seed's walk-through connector, with only what a user must give.
v1::ConnectorConfig SeedConfig() {
  v1::ConnectorConfig c;
  c.set_name("kafka-maxcompute-sink");
  c.set_source_topic("maxcompute-test-input");
  (*c.mutable_kafka_properties())["bootstrap.servers"] = "127.0.0.1:9092";
  v1::MaxComputeTarget* t = c.mutable_target();
  t->set_endpoint("http://service.cn-hangzhou.maxcompute.aliyun.com/api");
  t->set_project("connector_test");
  t->set_table("test_kafka");
  t->set_region("cn-hangzhou");
  t->set_account_id("123456789");
  t->set_role_name("AliyunKafkaMaxComputeUser1");
  return c;
}

std::vector<std::string> Fields(const v1::ConnectorConfig& c) {
  std::vector<std::string> out;
  for (const FieldViolation& v : Validate(WithDefaults(c))) out.push_back(v.field);
  return out;
}

TEST(ConnectorConfig, SeedDefaultsAreTheGuidesDefaults) {
  ASSERT_OK_AND_ASSIGN(const v1::ConnectorConfig c, Normalize(SeedConfig()));
  EXPECT_EQ(c.consumer_group(), "connect-kafka-maxcompute-sink");
  EXPECT_EQ(c.concurrency(), 6u);
  EXPECT_EQ(c.initial_offset(), v1::INITIAL_OFFSET_EARLIEST);
  EXPECT_EQ(c.failure_policy(), v1::FAILURE_POLICY_CONTINUE);
  EXPECT_EQ(c.resource_creation(), v1::RESOURCE_CREATION_AUTO);
  EXPECT_EQ(c.topics().offset_topic(), "connect-offset-kafka-maxcompute-sink");
  EXPECT_EQ(c.topics().config_topic(), "connect-config-kafka-maxcompute-sink");
  EXPECT_EQ(c.topics().status_topic(), "connect-status-kafka-maxcompute-sink");
  EXPECT_EQ(c.topics().error_topic(), "connect-error-kafka-maxcompute-sink");
  EXPECT_EQ(c.topics().dead_letter_topic(), "connect-error-kafka-maxcompute-sink");
  EXPECT_EQ(c.mode(), v1::MODE_DEFAULT);
  EXPECT_EQ(c.format(), v1::FORMAT_TEXT);
  EXPECT_EQ(c.granularity(), v1::GRANULARITY_HOUR);
  EXPECT_EQ(c.time_zone(), "GMT+08:00");
}

TEST(ConnectorConfig, NameRulesOfTheGuide) {
  EXPECT_TRUE(IsValidConnectorName("kafka-maxcompute-sink"));
  EXPECT_TRUE(IsValidConnectorName("a1-2b"));
  EXPECT_TRUE(IsValidConnectorName(std::string(48, 'a')));
  EXPECT_FALSE(IsValidConnectorName(std::string(49, 'a')));
  EXPECT_FALSE(IsValidConnectorName("-sink"));
  EXPECT_FALSE(IsValidConnectorName("Sink"));
  EXPECT_FALSE(IsValidConnectorName("my_sink"));
  EXPECT_FALSE(IsValidConnectorName(""));
}

TEST(ConnectorConfig, EveryBadFieldIsNamedAtOnce) {
  v1::ConnectorConfig c = SeedConfig();
  c.set_name("-Bad");
  c.set_concurrency(7);
  c.set_consumer_group("my-group");
  c.set_mode(v1::MODE_DEFAULT);
  c.set_format(v1::FORMAT_CSV);
  c.mutable_target()->set_project("");
  c.mutable_target()->set_endpoint("service.example.com");
  const auto status = Normalize(c);
  ASSERT_EQ(status.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(status.status().message());
  for (const char* field : {"name: ", "concurrency: must be 6 or 12",
                            "consumer_group: ", "format: CSV needs mode KEY or VALUE",
                            "target.project: ", "target.endpoint: "}) {
    EXPECT_NE(message.find(field), std::string::npos) << field << " missing in " << message;
  }
}

TEST(ConnectorConfig, ConcurrencyIsSixOrTwelve) {
  v1::ConnectorConfig c = SeedConfig();
  c.set_concurrency(12);
  EXPECT_TRUE(Fields(c).empty());
  c.set_concurrency(8);
  EXPECT_EQ(Fields(c), std::vector<std::string>{"concurrency"});
}

TEST(ConnectorConfig, CsvAndJsonWorkWithKeyOrValueMode) {
  for (v1::Format f : {v1::FORMAT_CSV, v1::FORMAT_JSON}) {
    for (v1::Mode m : {v1::MODE_KEY, v1::MODE_VALUE}) {
      v1::ConnectorConfig c = SeedConfig();
      c.set_format(f);
      c.set_mode(m);
      EXPECT_TRUE(Fields(c).empty()) << v1::Format_Name(f) << " " << v1::Mode_Name(m);
    }
  }
}

TEST(ConnectorConfig, CredentialsAreARoleOrAWholeAccessKey) {
  v1::ConnectorConfig c = SeedConfig();
  c.mutable_target()->clear_account_id();
  c.mutable_target()->clear_role_name();
  EXPECT_EQ(Fields(c), std::vector<std::string>{"target"});

  c.mutable_target()->mutable_access_key_id()->set_env("MY_AK_ID");
  EXPECT_EQ(Fields(c), std::vector<std::string>{"target.access_key_secret"});
  c.mutable_target()->mutable_access_key_secret()->set_file("/run/secrets/ak");
  EXPECT_TRUE(Fields(c).empty());

  c = SeedConfig();
  c.mutable_target()->set_account_id("12ab");
  c.mutable_target()->clear_region();
  EXPECT_EQ(Fields(c), (std::vector<std::string>{"target.account_id", "target.region"}));
}

TEST(ConnectorConfig, KafkaPropertiesAreCheckedByLibrdkafkaAndNeedBootstrap) {
  v1::ConnectorConfig c = SeedConfig();
  c.mutable_kafka_properties()->clear();
  (*c.mutable_kafka_properties())["security.protocol"] = "SASL_SSL";
  (*c.mutable_kafka_properties())["sasl.mechanizm"] = "PLAIN";
  (*c.mutable_kafka_secrets())["sasl.password"].set_env("KAFKA_PASSWORD");
  const auto violations = Validate(WithDefaults(c));
  ASSERT_EQ(violations.size(), 2u);
  EXPECT_EQ(violations[0].message, "bootstrap.servers is required");
  EXPECT_NE(violations[1].message.find("sasl.mechanizm: no such property"), std::string::npos);
}

TEST(ConnectorConfig, TimeZonesAreGmtOffsetsOrIanaNames) {
  v1::ConnectorConfig c = SeedConfig();
  for (const char* zone : {"GMT+08:00", "GMT-03:30", "Asia/Shanghai", "UTC"}) {
    c.set_time_zone(zone);
    EXPECT_TRUE(Fields(c).empty()) << zone;
  }
  c.set_time_zone("Mars/Olympus");
  EXPECT_EQ(Fields(c), std::vector<std::string>{"time_zone"});
  c.set_time_zone("GMT+25:00");
  EXPECT_EQ(Fields(c), std::vector<std::string>{"time_zone"});
}

TEST(ConnectorConfig, InternalTopicsMustBeValidAndNotTheSource) {
  v1::ConnectorConfig c = SeedConfig();
  c.mutable_topics()->set_offset_topic("maxcompute-test-input");
  c.mutable_topics()->set_status_topic("bad topic");
  EXPECT_EQ(Fields(c), (std::vector<std::string>{"topics.offset_topic", "topics.status_topic"}));
}

TEST(ConnectorConfig, LoadsJsonWithEnumNamesAndReportsBadJson) {
  const std::string path = ::testing::TempDir() + "/connector.json";
  std::ofstream(path) << R"({
    "name": "orders", "source_topic": "orders", "concurrency": 12,
    "initial_offset": "INITIAL_OFFSET_LATEST", "mode": "MODE_VALUE", "format": "FORMAT_JSON",
    "granularity": "GRANULARITY_DAY", "time_zone": "Asia/Shanghai",
    "kafka_properties": {"bootstrap.servers": "127.0.0.1:9092"},
    "target": {"endpoint": "http://127.0.0.1:8080/api", "project": "p1", "table": "orders",
               "access_key_id": {"env": "AK"}, "access_key_secret": {"env": "SK"}}
  })";
  ASSERT_OK_AND_ASSIGN(const v1::ConnectorConfig c, LoadJsonFile(path));
  EXPECT_EQ(c.concurrency(), 12u);
  EXPECT_EQ(c.initial_offset(), v1::INITIAL_OFFSET_LATEST);
  EXPECT_EQ(c.format(), v1::FORMAT_JSON);
  EXPECT_EQ(c.consumer_group(), "connect-orders");

  std::ofstream(path) << R"({"name": "orders", "concurrency": "many"})";
  EXPECT_EQ(LoadJsonFile(path).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadJsonFile(path + ".missing").status().code(), absl::StatusCode::kNotFound);
  std::remove(path.c_str());
}

TEST(ReadSecret, FromEnvironmentAndFileAndNamesWhatIsMissing) {
  v1::SecretRef env;
  env.set_env("MCSINK_TEST_SECRET");
  ::setenv("MCSINK_TEST_SECRET", "s3cret", 1);
  ASSERT_OK_AND_ASSIGN(const std::string from_env, ReadSecret(env));
  EXPECT_EQ(from_env, "s3cret");
  ::unsetenv("MCSINK_TEST_SECRET");
  const auto missing = ReadSecret(env);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(missing.status().message().find("MCSINK_TEST_SECRET"), std::string::npos);

  const std::string path = ::testing::TempDir() + "/secret";
  std::ofstream(path) << "from-file\n";
  v1::SecretRef file;
  file.set_file(path);
  ASSERT_OK_AND_ASSIGN(const std::string from_file, ReadSecret(file));
  EXPECT_EQ(from_file, "from-file");
  file.set_file(path + ".missing");
  EXPECT_EQ(ReadSecret(file).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(KafkaPropertiesFor, ReadsSecretReferencesAndNamesAMissingOne) {
  v1::ConnectorConfig c = SeedConfig();
  (*c.mutable_kafka_secrets())["sasl.password"].set_env("MCSINK_TEST_KAFKA_PASSWORD");
  ::setenv("MCSINK_TEST_KAFKA_PASSWORD", "pw", 1);
  ASSERT_OK_AND_ASSIGN(const kafka::Properties props, KafkaPropertiesFor(c));
  EXPECT_EQ(props.at("sasl.password"), "pw");
  EXPECT_EQ(props.at("bootstrap.servers"), "127.0.0.1:9092");
  ::unsetenv("MCSINK_TEST_KAFKA_PASSWORD");
  const auto missing = KafkaPropertiesFor(c);
  EXPECT_NE(missing.status().message().find("Kafka property sasl.password"), std::string::npos);
}

}  // namespace
}  // namespace mcsink::config
