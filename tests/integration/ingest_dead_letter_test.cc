// The ingest service's half of the dead-letter path on a real Kafka broker, with a test transform
// that refuses one partition's records (as transform does when the writer failed for good):
// under "continue" those records and a record too large to forward land in the dead-letter topic
// with their headers and every offset gets committed; under "stop" the partition stops at its
// first refused record instead. The status topic shows each partition's state and last error.
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "ingest_fixture.h"
#include "librdkafka/rdkafkacpp.h"
#include "mcsink/kafka/config.h"
#include "mcsink/testing/kafka_fixture.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsink/transform/error_topic.h"

namespace mcsink::ingest {
namespace {

constexpr int32_t kRefused = 0;  // the partition whose records the test transform refuses

// Acknowledges every batch; the records of partition kRefused come back as a BatchFailure.
class RefusingTransform : public TestTransform {
 public:
  void Answer(const v1::RecordBatch& batch, v1::Ack& ack) override {
    for (const v1::OffsetRange& r : batch.ranges()) {
      if (r.partition() != kRefused) continue;
      v1::BatchFailure* f = ack.add_failures();
      f->set_code("WRITER_FAILED");
      f->set_message("writing partition 'pt=x' failed permanently: PERMISSION_DENIED");
      *f->add_ranges() = r;
    }
    absl::MutexLock lock(&mu_);
    for (const v1::KafkaRecord& r : batch.records()) seen_.insert({r.partition(), r.offset()});
  }
  std::set<std::pair<int32_t, int64_t>> seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

 private:
  absl::Mutex mu_;
  std::set<std::pair<int32_t, int64_t>> seen_ ABSL_GUARDED_BY(mu_);
};

class IngestDeadLetterTest : public IngestServiceFixture {
 protected:
  IngestDeadLetterTest() : IngestServiceFixture("ingest-dlq", /*partitions=*/2) {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(IngestServiceFixture::SetUp());
    StartTransform(&transform_);
  }

  void Start(v1::FailurePolicy policy) {
    ASSERT_NO_FATAL_FAILURE(Configure(policy, /*dead_letter_partitions=*/2));
    IngestServiceOptions options = ServiceOptions();
    options.tuning.max_record_bytes = 1000;
    StartService(options);
  }

  // 20 records in each partition, and in partition 1 one more of 2000 bytes (too large).
  void ProduceRecords() {
    for (int32_t p = 0; p < 2; ++p) ASSERT_NO_FATAL_FAILURE(Produce(p, 20));
    ASSERT_OK(testing::ProduceTestRecords(
        bootstrap_, topic_, 1, [](int64_t) { return std::string("big"); },
        [](int64_t) { return std::string(2000, 'x'); }, 1));
  }

  struct DeadLetter {
    int32_t partition;
    int64_t offset;
    std::string code;
  };
  // The dead-letter topic's records, sorted by source partition and offset.
  std::vector<DeadLetter> ReadDeadLetters() {
    std::vector<DeadLetter> out;
    const std::string topic = config_.topics().dead_letter_topic();
    auto watermarks = admin_->Watermarks(topic);
    if (!watermarks.ok()) return out;
    auto conf = kafka::MakeConf({{"bootstrap.servers", bootstrap_},
                                 {"group.id", topic_ + "-reader"},
                                 {"enable.partition.eof", "true"}});
    EXPECT_OK(conf);
    std::string err;
    std::unique_ptr<RdKafka::KafkaConsumer> consumer(
        RdKafka::KafkaConsumer::create(conf->get(), err));
    std::vector<RdKafka::TopicPartition*> parts;
    size_t to_read = 0;
    for (const auto& w : *watermarks) {
      if (w.high <= w.low) continue;
      parts.push_back(RdKafka::TopicPartition::create(topic, w.partition, w.low));
      ++to_read;
    }
    consumer->assign(parts);
    RdKafka::TopicPartition::destroy(parts);
    size_t at_end = 0;
    for (const absl::Time until = absl::Now() + absl::Seconds(30);
         at_end < to_read && absl::Now() < until;) {
      std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
      if (m->err() == RdKafka::ERR__PARTITION_EOF) ++at_end;
      if (m->err() != RdKafka::ERR_NO_ERROR) continue;
      std::map<std::string, std::string> h;
      for (const auto& header : m->headers()->get_all()) {
        h[header.key()] =
            std::string(static_cast<const char*>(header.value()), header.value_size());
      }
      DeadLetter d{-1, -1, h[transform::kHeaderCode]};
      EXPECT_TRUE(absl::SimpleAtoi(h[transform::kHeaderPartition], &d.partition));
      EXPECT_TRUE(absl::SimpleAtoi(h[transform::kHeaderOffset], &d.offset));
      EXPECT_EQ(h[transform::kHeaderTopic], topic_);
      EXPECT_EQ(h[transform::kHeaderConnector], topic_);
      EXPECT_FALSE(h[transform::kHeaderMessage].empty());
      out.push_back(d);
    }
    consumer->close();
    std::sort(out.begin(), out.end(), [](const DeadLetter& a, const DeadLetter& b) {
      return std::make_pair(a.partition, a.offset) < std::make_pair(b.partition, b.offset);
    });
    return out;
  }

  RefusingTransform transform_;
};

TEST_F(IngestDeadLetterTest, ContinueDeadLettersRefusedAndOversizedRecordsAndCommitsEverything) {
  // Given the policy "continue"
  Start(v1::FAILURE_POLICY_CONTINUE);
  // When partition 0's records are refused downstream and partition 1 ends with a huge record
  ProduceRecords();
  // Then every offset of both partitions is committed: nothing stalls
  auto committed = WaitForCommitted({{0, 20}, {1, 21}});
  EXPECT_EQ(committed[0], 20);
  EXPECT_EQ(committed[1], 21);
  // And the dead-letter topic holds partition 0's 20 records and the huge one, with reasons
  const std::vector<DeadLetter> dead = ReadDeadLetters();
  ASSERT_EQ(dead.size(), 21u);
  for (int64_t i = 0; i < 20; ++i) {
    EXPECT_EQ(dead[static_cast<size_t>(i)].partition, 0);
    EXPECT_EQ(dead[static_cast<size_t>(i)].offset, i);
    EXPECT_EQ(dead[static_cast<size_t>(i)].code, "WRITER_FAILED");
  }
  EXPECT_EQ(dead[20].partition, 1);
  EXPECT_EQ(dead[20].offset, 20);
  EXPECT_EQ(dead[20].code, "RECORD_TOO_LARGE");
  // And the huge record never went downstream
  EXPECT_FALSE(transform_.seen().contains({1, 20}));
  EXPECT_TRUE(transform_.seen().contains({1, 19}));
  // And each partition's status is running with its last error
  const v1::PartitionStatus s0 = Status(0, v1::PARTITION_STATE_RUNNING);
  EXPECT_EQ(s0.state(), v1::PARTITION_STATE_RUNNING);
  EXPECT_EQ(s0.last_error().code(), "WRITER_FAILED");
  const v1::PartitionStatus s1 = Status(1, v1::PARTITION_STATE_RUNNING);
  EXPECT_EQ(s1.last_error().code(), "RECORD_TOO_LARGE");
  EXPECT_EQ(s1.last_error().offset(), 20);
}

TEST_F(IngestDeadLetterTest, StopStopsThePartitionAtItsFirstRefusedRecordInstead) {
  // Given the policy "stop"
  Start(v1::FAILURE_POLICY_STOP);
  // When partition 0's records are refused downstream and partition 1 ends with a huge record
  ProduceRecords();
  // Then partition 0 stops at offset 0 and is reported, and so does partition 1 at the huge one
  auto committed = WaitForCommitted({{1, 20}});
  EXPECT_EQ(committed[1], 20) << "partition 1 is committed up to the huge record";
  EXPECT_LE(committed[0], 0) << "nothing of partition 0 is committed";
  EXPECT_EQ(WaitForStopped(2), (std::map<int32_t, int64_t>{{0, 0}, {1, 20}}));
  // And nothing went to the dead-letter topic
  EXPECT_TRUE(ReadDeadLetters().empty());
  // And the status topic says STOPPED with the error
  const v1::PartitionStatus s0 = Status(0, v1::PARTITION_STATE_STOPPED);
  EXPECT_EQ(s0.state(), v1::PARTITION_STATE_STOPPED);
  EXPECT_EQ(s0.last_error().code(), "WRITER_FAILED");
  EXPECT_EQ(s0.last_error().offset(), 0);
  EXPECT_EQ(Status(1, v1::PARTITION_STATE_STOPPED).state(), v1::PARTITION_STATE_STOPPED);
}

}  // namespace
}  // namespace mcsink::ingest
