// Control records on the real broker (fixture `kafka`): keyed writes read back as the latest
// value per key, tombstones, a missing topic; and a group's committed offsets altered by the
// admin client, refused while the group has an active member.
#include <librdkafka/rdkafkacpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "mcsink/kafka/admin.h"
#include "mcsink/kafka/topic_io.h"
#include "mcsink/testing/kafka_fixture.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink::kafka {
namespace {

class TopicIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(bootstrap_, testing::KafkaFixtureBootstrap());
    ASSERT_OK_AND_ASSIGN(admin_, Admin::Create({{"bootstrap.servers", bootstrap_}}));
    topic_ = testing::UniqueTopicName("control");
  }
  Properties props() const { return {{"bootstrap.servers", bootstrap_}}; }
  std::string bootstrap_, topic_;
  std::unique_ptr<Admin> admin_;
};

TEST_F(TopicIoTest, ReadsTheLatestValueOfEveryKeyAndForgetsTombstonedKeys) {
  ASSERT_OK(admin_->CreateTopic({.name = topic_, .partitions = 3}));
  ASSERT_OK_AND_ASSIGN(auto writer, KeyedWriter::Create(props()));
  ASSERT_OK(writer->Write(topic_, "a", "1").status());
  ASSERT_OK(writer->Write(topic_, "b", "1").status());
  ASSERT_OK(writer->Write(topic_, "a", "2").status());
  ASSERT_OK_AND_ASSIGN(const WrittenOffset last, writer->Write(topic_, "b", std::nullopt));
  EXPECT_GE(last.offset, 0);
  ASSERT_OK_AND_ASSIGN(const auto latest, ReadLatestByKey(props(), topic_));
  EXPECT_EQ(latest, (std::map<std::string, std::string>{{"a", "2"}}));
}

TEST_F(TopicIoTest, AnEmptyTopicReadsAsNothingAndAMissingOneIsNotFound) {
  ASSERT_OK(admin_->CreateTopic({.name = topic_, .partitions = 2}));
  ASSERT_OK_AND_ASSIGN(const auto latest, ReadLatestByKey(props(), topic_));
  EXPECT_TRUE(latest.empty());
  EXPECT_EQ(ReadLatestByKey(props(), topic_ + "-missing").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(TopicIoTest, CommittedOffsetsAreAlteredOnlyWhileTheGroupHasNoMembers) {
  ASSERT_OK(admin_->CreateTopic({.name = topic_, .partitions = 2}));
  ASSERT_OK(testing::ProduceTestRecords(
      bootstrap_, topic_, 10, [](int64_t i) { return absl::StrCat(i); },
      [](int64_t i) { return absl::StrCat(i); }, /*partition=*/0));
  const std::string group = topic_ + "-group";
  ASSERT_OK(admin_->AlterCommittedOffsets(group, topic_, {{0, 7}, {1, 0}}));
  ASSERT_OK_AND_ASSIGN(auto committed, admin_->CommittedOffsets(group, topic_));
  EXPECT_EQ(committed, (std::map<int32_t, int64_t>{{0, 7}, {1, 0}}));

  // A member joins: the broker refuses, and the error says to stop the consumers.
  auto conf = MakeConf({{"bootstrap.servers", bootstrap_}, {"group.id", group}});
  ASSERT_OK(conf.status());
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf->get(), err));
  ASSERT_NE(consumer, nullptr) << err;
  ASSERT_EQ(consumer->subscribe({topic_}), RdKafka::ERR_NO_ERROR);
  // Joining takes a few polls; the group is non-empty once partitions are assigned.
  std::vector<RdKafka::TopicPartition*> assignment;
  for (int i = 0; i < 100 && assignment.empty(); ++i) {
    delete consumer->consume(100);
    consumer->assignment(assignment);
  }
  ASSERT_FALSE(assignment.empty());
  RdKafka::TopicPartition::destroy(assignment);
  const absl::Status refused = admin_->AlterCommittedOffsets(group, topic_, {{0, 1}});
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "stop its consumers first")) << refused;
  consumer->close();
}

}  // namespace
}  // namespace mcsink::kafka
