// StatusPublisher against librdkafka's mock cluster: each event becomes the partition's latest
// PartitionStatus in the status topic, as JSON with the proto's field names under
// partition-<topic>-<partition>; progress reports are throttled to the interval.
#include "mcsink/ingest/status_publisher.h"

#include <string>

#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "mcsink/kafka/topic_io.h"
#include "mcsink/testing/mock_kafka.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink::ingest {
namespace {

class StatusPublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(cluster_.CreateTopic("status", 1));
    StatusPublisherOptions options;
    options.connector = "orders";
    options.topic = "status";
    options.kafka_properties = {{"bootstrap.servers", cluster_.bootstrap_servers()}};
    options.host = "host-a";
    options.interval = absl::Hours(1);  // so only the first progress report goes out
    ASSERT_OK_AND_ASSIGN(publisher_, StatusPublisher::Create(options));
  }

  // The latest status of src[3] in the topic, and its raw JSON.
  v1::PartitionStatus Latest(std::string* json = nullptr) {
    publisher_->Flush(absl::Seconds(10));
    auto records = kafka::ReadLatestByKey({{"bootstrap.servers", cluster_.bootstrap_servers()}},
                                          "status", absl::Seconds(20));
    EXPECT_OK(records);
    v1::PartitionStatus status;
    if (!records.ok()) return status;
    auto it = records->find("partition-src-3");
    EXPECT_NE(it, records->end()) << "no record under partition-src-3";
    if (it == records->end()) return status;
    if (json != nullptr) *json = it->second;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(it->second, &status).ok())
        << it->second;
    return status;
  }

  testing::MockKafkaCluster cluster_;
  std::unique_ptr<StatusPublisher> publisher_;
  const TopicPartition tp_{"src", 3};
};

TEST_F(StatusPublisherTest, AssignmentPublishesRunningWithOwnerAsProtoFieldNames) {
  // When worker 2 is assigned src[3]
  publisher_->OnAssigned(2, tp_);
  // Then the status topic says RUNNING, owned by host-a/ingest-2, in proto field names
  std::string json;
  const v1::PartitionStatus s = Latest(&json);
  EXPECT_EQ(s.topic(), "src");
  EXPECT_EQ(s.partition(), 3);
  EXPECT_EQ(s.state(), v1::PARTITION_STATE_RUNNING);
  EXPECT_EQ(s.owner(), "host-a/ingest-2");
  EXPECT_GT(s.updated_at_ms(), 0);
  EXPECT_NE(json.find("\"updated_at_ms\""), std::string::npos) << json;
}

TEST_F(StatusPublisherTest, ProgressIsThrottledAndStopCarriesTheError) {
  // Given a first progress report of a partition (published: nothing was yet)
  publisher_->OnProgress(0, tp_, {.committed_offset = 100, .log_end_offset = 150, .lag = 50});
  // When a second report comes within the interval
  publisher_->OnProgress(0, tp_, {.committed_offset = 120, .log_end_offset = 150, .lag = 30});
  // Then the topic still shows the first, as a running partition of its reporter
  v1::PartitionStatus s = Latest();
  EXPECT_EQ(s.state(), v1::PARTITION_STATE_RUNNING);
  EXPECT_EQ(s.owner(), "host-a/ingest-0");
  EXPECT_EQ(s.committed_offset(), 100);
  EXPECT_EQ(s.log_end_offset(), 150);
  EXPECT_EQ(s.lag(), 50);
  // When the failure policy stops it at offset 130
  publisher_->OnStopped(0, {tp_, 130, "WRITER_FAILED: no write access", "WRITER_FAILED"});
  // Then it is STOPPED at once, with the error and the latest known offsets
  s = Latest();
  EXPECT_EQ(s.state(), v1::PARTITION_STATE_STOPPED);
  EXPECT_EQ(s.last_error().code(), "WRITER_FAILED");
  EXPECT_EQ(s.last_error().offset(), 130);
  EXPECT_NE(s.last_error().message().find("no write access"), std::string::npos);
  EXPECT_EQ(s.committed_offset(), 120);
}

TEST_F(StatusPublisherTest, DeadLetteringSetsLastErrorAndRevokeUnassigns) {
  publisher_->OnAssigned(1, tp_);
  // When records from offset 7 were dead-lettered
  publisher_->OnDeadLettered(tp_, 7, "WRITER_FAILED", "writing partition failed");
  // Then the partition keeps running, with the error recorded
  v1::PartitionStatus s = Latest();
  EXPECT_EQ(s.state(), v1::PARTITION_STATE_RUNNING);
  EXPECT_EQ(s.last_error().code(), "WRITER_FAILED");
  EXPECT_EQ(s.last_error().offset(), 7);
  // When it is revoked
  publisher_->OnRevoked(1, tp_);
  // Then no one owns it
  s = Latest();
  EXPECT_EQ(s.state(), v1::PARTITION_STATE_UNASSIGNED);
  EXPECT_TRUE(s.owner().empty());
}

}  // namespace
}  // namespace mcsink::ingest
