// The connector's internal topics on the real broker: automatic creation with the guide's
// settings, and manual mode refusing topics that break a rule, naming the topic and the rule.
#include "mcsink/controller/internal_topics.h"
#include "gtest/gtest.h"
#include "mcsink/config/connector_config.h"
#include "mcsink/testing/kafka_fixture.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink::controller {
namespace {

class InternalTopicsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(std::string bootstrap, testing::KafkaFixtureBootstrap());
    ASSERT_OK_AND_ASSIGN(admin_, kafka::Admin::Create({{"bootstrap.servers", bootstrap}}));
    config_.set_name(testing::UniqueTopicName("c"));
    config_ = config::WithDefaults(config_);
  }
  std::unique_ptr<kafka::Admin> admin_;
  v1::ConnectorConfig config_;
};

TEST_F(InternalTopicsTest, AutomaticModeCreatesTheFiveTopicsAsTheGuideAsks) {
  ASSERT_OK(EnsureInternalTopics(*admin_, config_));
  ASSERT_OK_AND_ASSIGN(auto offset, admin_->DescribeTopic(config_.topics().offset_topic()));
  EXPECT_GT(offset.partitions, 1);
  EXPECT_EQ(offset.configs.at("cleanup.policy"), "compact");
  ASSERT_OK_AND_ASSIGN(auto cfg, admin_->DescribeTopic(config_.topics().config_topic()));
  EXPECT_EQ(cfg.partitions, 1);
  EXPECT_EQ(cfg.configs.at("cleanup.policy"), "compact");
  ASSERT_OK_AND_ASSIGN(auto status, admin_->DescribeTopic(config_.topics().status_topic()));
  EXPECT_EQ(status.partitions, 6);
  EXPECT_EQ(status.configs.at("cleanup.policy"), "compact");
  ASSERT_OK_AND_ASSIGN(auto error, admin_->DescribeTopic(config_.topics().error_topic()));
  EXPECT_EQ(error.partitions, 6);
  // A second run finds them and checks them.
  EXPECT_OK(EnsureInternalTopics(*admin_, config_));
}

TEST_F(InternalTopicsTest, ManualModeNamesEachTopicAndTheRuleItBreaks) {
  config_.set_resource_creation(v1::RESOURCE_CREATION_MANUAL);
  const v1::InternalTopics& t = config_.topics();
  ASSERT_OK(admin_->CreateTopic(
      {.name = t.offset_topic(), .partitions = 1, .configs = {{"cleanup.policy", "compact"}}}));
  ASSERT_OK(admin_->CreateTopic(
      {.name = t.config_topic(), .partitions = 3, .configs = {{"cleanup.policy", "compact"}}}));
  ASSERT_OK(admin_->CreateTopic({.name = t.status_topic(), .partitions = 6}));  // not compact
  // The error topic is missing.
  const absl::Status s = EnsureInternalTopics(*admin_, config_);
  ASSERT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  const std::string m(s.message());
  EXPECT_NE(m.find("topics.offset_topic: offset topic " + t.offset_topic() +
                   " must have more than 1 partition(s), has 1"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("topics.config_topic: config topic " + t.config_topic() +
                   " must have exactly 1 partition, has 3"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("topics.status_topic: status topic " + t.status_topic() +
                   " must have cleanup.policy=compact, has cleanup.policy=delete"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("topics.dead_letter_topic: dead-letter topic " + t.dead_letter_topic() +
                   " does not exist"),
            std::string::npos)
      << m;
}

TEST_F(InternalTopicsTest, ManualModeAcceptsTopicsMadeByHandThatFollowTheRules) {
  config_.set_resource_creation(v1::RESOURCE_CREATION_MANUAL);
  for (const TopicRule& rule : InternalTopicRules(config_)) {
    kafka::TopicSpec spec{.name = rule.name, .partitions = rule.create_partitions};
    if (rule.compact) spec.configs["cleanup.policy"] = "compact,delete";
    ASSERT_OK(admin_->CreateTopic(spec));
  }
  EXPECT_OK(EnsureInternalTopics(*admin_, config_));
}

}  // namespace
}  // namespace mcsink::controller
