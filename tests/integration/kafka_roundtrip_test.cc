// Through a real Kafka broker (the `kafka` fixture): the admin client, producing, consuming in a
// group, and committed offsets that match the log end offsets.
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "mcsink/kafka/admin.h"
#include "mcsink/kafka/config.h"
#include "mcsink/testing/kafka_fixture.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink::kafka {
namespace {

class KafkaBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto bootstrap = testing::KafkaFixtureBootstrap();
    ASSERT_OK(bootstrap);
    bootstrap_ = *bootstrap;
    auto admin = Admin::Create({{"bootstrap.servers", bootstrap_}});
    ASSERT_OK(admin);
    admin_ = std::move(*admin);
  }
  std::string bootstrap_;
  std::unique_ptr<Admin> admin_;
};

TEST_F(KafkaBrokerTest, HundredThousandRecordsOverTwelvePartitionsAreConsumedAndCommitted) {
  // Given a topic with 12 partitions made with the Admin API.
  const std::string topic = testing::UniqueTopicName("roundtrip");
  ASSERT_OK(admin_->CreateTopic({.name = topic, .partitions = 12}));
  ASSERT_OK_AND_ASSIGN(const TopicDescription described, admin_->DescribeTopic(topic));
  EXPECT_EQ(described.partitions, 12);

  // When 100,000 records are produced...
  constexpr int64_t kRecords = 100'000;
  ASSERT_OK(testing::ProduceTestRecords(
      bootstrap_, topic, kRecords, [](int64_t i) { return absl::StrCat(i); },
      [](int64_t i) { return absl::StrCat("value-", i); }));

  // ...and consumed by a consumer group that commits what it read,
  const std::string group = absl::StrCat("connect-", topic);
  ASSERT_OK_AND_ASSIGN(auto cconf, MakeConf({{"bootstrap.servers", bootstrap_},
                                             {"group.id", group},
                                             {"auto.offset.reset", "earliest"},
                                             {"enable.auto.commit", "false"}}));
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(cconf.get(), err));
  ASSERT_NE(consumer, nullptr) << err;
  ASSERT_EQ(consumer->subscribe({topic}), RdKafka::ERR_NO_ERROR);
  std::set<std::pair<int32_t, int64_t>> seen;
  int64_t duplicates = 0;
  const absl::Time deadline = absl::Now() + absl::Minutes(3);
  while (static_cast<int64_t>(seen.size()) < kRecords && absl::Now() < deadline) {
    std::unique_ptr<RdKafka::Message> msg(consumer->consume(200));
    if (msg->err() == RdKafka::ERR__TIMED_OUT || msg->err() == RdKafka::ERR__PARTITION_EOF) {
      continue;
    }
    ASSERT_EQ(msg->err(), RdKafka::ERR_NO_ERROR) << msg->errstr();
    if (!seen.emplace(msg->partition(), msg->offset()).second) ++duplicates;
  }
  ASSERT_EQ(static_cast<int64_t>(seen.size()), kRecords);
  EXPECT_EQ(duplicates, 0);
  ASSERT_EQ(consumer->commitSync(), RdKafka::ERR_NO_ERROR);
  consumer->close();

  // then the committed offsets read back equal the log end offsets.
  ASSERT_OK_AND_ASSIGN(const auto watermarks, admin_->Watermarks(topic));
  ASSERT_OK_AND_ASSIGN(const auto committed, admin_->CommittedOffsets(group, topic));
  ASSERT_EQ(watermarks.size(), 12u);
  int64_t total = 0;
  for (const PartitionWatermarks& w : watermarks) {
    ASSERT_TRUE(committed.contains(w.partition)) << "partition " << w.partition;
    EXPECT_EQ(committed.at(w.partition), w.high) << "partition " << w.partition;
    EXPECT_GT(w.high, 0) << "the default partitioner left partition " << w.partition << " empty";
    total += w.high - w.low;
  }
  EXPECT_EQ(total, kRecords);
}

TEST_F(KafkaBrokerTest, CreatesACompactedTopicAndReportsItsConfig) {
  const std::string topic = testing::UniqueTopicName("connect-config");
  ASSERT_OK(admin_->CreateTopic(
      {.name = topic, .partitions = 1, .configs = {{"cleanup.policy", "compact"}}}));
  ASSERT_OK_AND_ASSIGN(const TopicDescription described, admin_->DescribeTopic(topic));
  EXPECT_EQ(described.partitions, 1);
  EXPECT_EQ(described.configs.at("cleanup.policy"), "compact");

  const absl::Status again = admin_->CreateTopic({.name = topic, .partitions = 1});
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;

  ASSERT_OK(admin_->DeleteTopic(topic));
}

TEST_F(KafkaBrokerTest, ReportsMissingTopicsAndGroupsWithoutCommits) {
  const std::string missing = testing::UniqueTopicName("missing");
  EXPECT_EQ(admin_->DescribeTopic(missing).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(admin_->Watermarks(missing).status().code(), absl::StatusCode::kNotFound);

  const std::string topic = testing::UniqueTopicName("uncommitted");
  ASSERT_OK(admin_->CreateTopic({.name = topic, .partitions = 2}));
  ASSERT_OK_AND_ASSIGN(const auto committed, admin_->CommittedOffsets("connect-nobody", topic));
  EXPECT_TRUE(committed.empty());
}

TEST_F(KafkaBrokerTest, RefusesAnInvalidPartitionCountWithTheReason) {
  const absl::Status status =
      admin_->CreateTopic({.name = testing::UniqueTopicName("bad"), .partitions = 0});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
}

}  // namespace
}  // namespace mcsink::kafka
