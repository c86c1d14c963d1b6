// The librdkafka mock cluster fixture: fast, in-process, for Kafka client code that needs no
// admin API.
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "mcsink/kafka/config.h"
#include "mcsink/testing/mock_kafka.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink::kafka {
namespace {

TEST(MockKafkaCluster, CarriesRecordsFromAProducerToAConsumerGroupAndKeepsCommits) {
  testing::MockKafkaCluster cluster;
  ASSERT_OK(cluster.CreateTopic("orders", 3));

  ASSERT_OK_AND_ASSIGN(auto pconf, MakeConf({{"bootstrap.servers", cluster.bootstrap_servers()}}));
  std::string err;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(pconf.get(), err));
  ASSERT_NE(producer, nullptr) << err;
  constexpr int kRecords = 300;
  for (int i = 0; i < kRecords; ++i) {
    const std::string value = absl::StrCat("v", i);
    ASSERT_EQ(
        producer->produce("orders", i % 3, RdKafka::Producer::RK_MSG_COPY,
                          const_cast<char*>(value.data()), value.size(), nullptr, 0, 0, nullptr),
        RdKafka::ERR_NO_ERROR);
  }
  ASSERT_EQ(producer->flush(10000), RdKafka::ERR_NO_ERROR);

  ASSERT_OK_AND_ASSIGN(auto cconf, MakeConf({{"bootstrap.servers", cluster.bootstrap_servers()},
                                             {"group.id", "g1"},
                                             {"auto.offset.reset", "earliest"},
                                             {"enable.auto.commit", "false"}}));
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(cconf.get(), err));
  ASSERT_NE(consumer, nullptr) << err;
  ASSERT_EQ(consumer->subscribe({"orders"}), RdKafka::ERR_NO_ERROR);
  std::set<std::string> values;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (values.size() < kRecords && absl::Now() < deadline) {
    std::unique_ptr<RdKafka::Message> msg(consumer->consume(100));
    if (msg->err() == RdKafka::ERR_NO_ERROR) {
      values.insert(std::string(static_cast<const char*>(msg->payload()), msg->len()));
    }
  }
  EXPECT_EQ(values.size(), static_cast<size_t>(kRecords));
  ASSERT_EQ(consumer->commitSync(), RdKafka::ERR_NO_ERROR);

  std::vector<RdKafka::TopicPartition*> parts;
  for (int p = 0; p < 3; ++p) parts.push_back(RdKafka::TopicPartition::create("orders", p));
  ASSERT_EQ(consumer->committed(parts, 10000), RdKafka::ERR_NO_ERROR);
  int64_t committed = 0;
  for (auto* tp : parts) committed += tp->offset();
  EXPECT_EQ(committed, kRecords);
  RdKafka::TopicPartition::destroy(parts);
  consumer->close();
}

}  // namespace
}  // namespace mcsink::kafka
