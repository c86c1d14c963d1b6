// Framework-level failures on a real Kafka broker and mclocal, in the all-in-one process: when
// MaxCompute refuses a block for good (an injected 403), the records of the failed upload session
// land in the dead-letter topic with headers that say why and where they came from, the
// partitions keep moving under the failure policy "continue" (later records reach the table and
// every offset is committed), and each partition's status is in the status topic.
#include "absl/strings/match.h"
#include "e2e_harness.h"
#include "google/protobuf/util/json_util.h"
#include "mcsink/kafka/topic_io.h"
#include "mcsink/v1/controller.pb.h"

namespace mcsink {
namespace {

using testing::ChildProcess;

class DeadLetterE2ETest : public PipelineE2ETest {
 protected:
  // The first block upload is refused with 403 (not retryable); every later one succeeds.
  std::vector<std::string> MclocalFlags() const override {
    return {"--fault=put_block:fail:403@1"};
  }

  struct DeadLetter {
    std::string code;
    std::string message;
    std::string connector;
    std::string value;
  };

  // Every record of the dead-letter topic, by (source partition, source offset); a record there
  // twice counts once (duplicates are allowed), and `duplicates` counts the extras.
  std::map<std::pair<int32_t, int64_t>, DeadLetter> ReadDeadLetters(int64_t* duplicates) {
    std::map<std::pair<int32_t, int64_t>, DeadLetter> out;
    *duplicates = 0;
    const std::string topic = "connect-error-" + name_;
    auto watermarks = admin_->Watermarks(topic);
    if (!watermarks.ok()) return out;  // not created yet: nothing dead-lettered
    auto conf = kafka::MakeConf({{"bootstrap.servers", bootstrap_},
                                 {"group.id", name_ + "-dlq-reader"},
                                 {"enable.auto.commit", "false"},
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
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    size_t at_end = 0;
    while (at_end < to_read && absl::Now() < deadline) {
      std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
      if (m->err() == RdKafka::ERR__PARTITION_EOF) {
        ++at_end;
        continue;
      }
      if (m->err() != RdKafka::ERR_NO_ERROR) continue;
      std::map<std::string, std::string> h;
      for (const auto& header : m->headers()->get_all()) {
        h[header.key()] =
            std::string(static_cast<const char*>(header.value()), header.value_size());
      }
      int32_t p = -1;
      int64_t o = -1;
      EXPECT_TRUE(absl::SimpleAtoi(h["mcsink.source.partition"], &p));
      EXPECT_TRUE(absl::SimpleAtoi(h["mcsink.source.offset"], &o));
      EXPECT_EQ(h["mcsink.source.topic"], topic_);
      const bool fresh =
          out.emplace(std::make_pair(p, o),
                      DeadLetter{h["mcsink.error.code"], h["mcsink.error.message"],
                                 h["mcsink.connector"],
                                 std::string(static_cast<const char*>(m->payload()), m->len())})
              .second;
      if (!fresh) ++*duplicates;
    }
    consumer->close();
    return out;
  }
};

TEST_F(DeadLetterE2ETest, PermanentWriterFailureDeadLettersTheBatchAndPartitionsKeepMoving) {
  // Given records in 12 partitions and a table whose first block upload is refused for good
  const int64_t first = 3000;
  ASSERT_OK(Produce(first));
  ASSERT_OK_AND_ASSIGN(ChildProcess sink, StartAllInOne());

  // When the pipeline runs under the failure policy "continue"
  // Then every record of the first round is either in the table or in the dead-letter topic
  std::map<std::pair<int32_t, int64_t>, DeadLetter> dead;
  int64_t duplicates = 0;
  int64_t rows = 0;
  const absl::Time deadline = absl::Now() + absl::Minutes(3);
  while (absl::Now() < deadline) {
    dead = ReadDeadLetters(&duplicates);
    auto n = CountRows();
    if (n.ok()) rows = *n;
    if (rows + static_cast<int64_t>(dead.size()) >= first) break;
    absl::SleepFor(absl::Seconds(1));
  }
  std::cout << "round 1: " << rows << " rows, " << dead.size() << " dead letters (" << duplicates
            << " duplicates)\n";
  ASSERT_GT(dead.size(), 0u) << "the refused block's records are dead-lettered";
  EXPECT_EQ(rows + static_cast<int64_t>(dead.size()), first);
  // ... with headers that say why and where from, and the original value
  for (const auto& [where, d] : dead) {
    EXPECT_EQ(d.code, "WRITER_FAILED") << where.first << "@" << where.second;
    EXPECT_NE(d.message.find("PERMISSION_DENIED"), std::string::npos) << d.message;
    EXPECT_EQ(d.connector, name_);
    EXPECT_TRUE(absl::StartsWith(d.value, "value-")) << d.value;
  }

  // When more records arrive
  const int64_t second = 3000;
  ASSERT_OK(Produce(second));
  // Then they all reach the table: no partition stalled on the failed batch
  const int64_t expected_rows = first + second - static_cast<int64_t>(dead.size());
  EXPECT_EQ(WaitForRows(expected_rows, absl::Minutes(3)), expected_rows);

  // And every partition's offsets are committed to the log end (dead letters count as done)
  ASSERT_OK_AND_ASSIGN(const auto watermarks, admin_->Watermarks(topic_));
  std::map<int32_t, int64_t> committed;
  bool all_committed = false;
  for (const absl::Time until = absl::Now() + absl::Seconds(60);
       !all_committed && absl::Now() < until; absl::SleepFor(absl::Milliseconds(500))) {
    auto offsets = admin_->CommittedOffsets("connect-" + name_, topic_);
    if (!offsets.ok()) continue;
    committed = *offsets;
    all_committed = true;
    for (const auto& w : watermarks) {
      if (committed[w.partition] != w.high) all_committed = false;
    }
  }
  for (const auto& w : watermarks) {
    EXPECT_EQ(committed[w.partition], w.high) << "partition " << w.partition;
  }

  // And the status topic holds each partition's status: running, owned, offsets reported, and
  // the dead-lettering recorded as its last error where it happened
  ASSERT_OK_AND_ASSIGN(
      const auto statuses,
      kafka::ReadLatestByKey({{"bootstrap.servers", bootstrap_}}, "connect-status-" + name_));
  std::set<int32_t> dead_partitions;
  for (const auto& [where, d] : dead) dead_partitions.insert(where.first);
  for (const auto& w : watermarks) {
    const std::string key = absl::StrCat("partition-", topic_, "-", w.partition);
    auto it = statuses.find(key);
    ASSERT_NE(it, statuses.end()) << "no status under " << key;
    v1::PartitionStatus s;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(it->second, &s).ok()) << it->second;
    EXPECT_EQ(s.state(), v1::PARTITION_STATE_RUNNING) << it->second;
    EXPECT_FALSE(s.owner().empty()) << it->second;
    if (dead_partitions.contains(w.partition)) {
      EXPECT_EQ(s.last_error().code(), "WRITER_FAILED") << it->second;
    }
  }
  EXPECT_EQ(sink.Stop(absl::Seconds(60)), 0) << "a clean drain exits 0";
}

}  // namespace
}  // namespace mcsink
