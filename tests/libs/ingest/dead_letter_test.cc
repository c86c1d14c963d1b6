// DeadLetterQueue against librdkafka's mock cluster: records named by offset range are read back
// from the source topic and land in the dead-letter topic with the error topic's headers; a
// record in hand goes there too; a failure is reported and never taken for a delivery.
#include "mcsink/ingest/dead_letter.h"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <future>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "mcsink/ingest/ingest_metrics.h"
#include "mcsink/kafka/config.h"
#include "mcsink/testing/mock_kafka.h"
#include "mcsink/testing/status_matchers.h"
#include "prometheus/registry.h"

namespace mcsink::ingest {
namespace {

struct Received {
  std::string key;
  std::string value;
  std::map<std::string, std::string> headers;
};

// Reads the records of partitions 0..3 of `topic` from the beginning: until `expected` came
// (up to 20 s), then 1 s more to catch any extra; sorted by source offset header.
std::vector<Received> ReadTopic(const std::string& bootstrap, const std::string& topic,
                                size_t expected) {
  auto conf = kafka::MakeConf(
      {{"bootstrap.servers", bootstrap}, {"group.id", "reader"}, {"enable.auto.commit", "false"}});
  EXPECT_OK(conf);
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf->get(), err));
  std::vector<RdKafka::TopicPartition*> parts;
  for (int p = 0; p < 4; ++p) {
    parts.push_back(RdKafka::TopicPartition::create(topic, p, RdKafka::Topic::OFFSET_BEGINNING));
  }
  consumer->assign(parts);
  RdKafka::TopicPartition::destroy(parts);
  std::vector<Received> out;
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    Received r;
    if (m->key() != nullptr) r.key = *m->key();
    r.value.assign(static_cast<const char*>(m->payload()), m->len());
    if (RdKafka::Headers* h = m->headers(); h != nullptr) {
      for (const auto& header : h->get_all()) {
        r.headers[header.key()] =
            std::string(static_cast<const char*>(header.value()), header.value_size());
      }
    }
    out.push_back(std::move(r));
    if (out.size() == expected) deadline = std::min(deadline, absl::Now() + absl::Seconds(1));
  }
  consumer->close();
  // The dead-letter topic is partitioned by key, so the order across partitions is arbitrary.
  std::sort(out.begin(), out.end(), [](const Received& a, const Received& b) {
    return std::stoll(a.headers.at(transform::kHeaderOffset)) <
           std::stoll(b.headers.at(transform::kHeaderOffset));
  });
  return out;
}

// Produces key k<i>, value v<i> (with header origin=test) for i in [0, n) to partition 0.
void Produce(const std::string& bootstrap, const std::string& topic, int n) {
  auto conf = kafka::MakeConf({{"bootstrap.servers", bootstrap}});
  ASSERT_OK(conf);
  std::string err;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf->get(), err));
  for (int i = 0; i < n; ++i) {
    const std::string key = absl::StrCat("k", i);
    const std::string value = absl::StrCat("v", i);
    RdKafka::Headers* headers = RdKafka::Headers::create();
    headers->add("origin", "test");
    ASSERT_EQ(
        producer->produce(topic, 0, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value.data()),
                          value.size(), key.data(), key.size(), 0, headers, nullptr),
        RdKafka::ERR_NO_ERROR);
  }
  ASSERT_EQ(producer->flush(10000), RdKafka::ERR_NO_ERROR);
}

v1::BatchFailure Failure(const std::string& topic, int64_t first, int64_t last) {
  v1::BatchFailure f;
  f.set_code("WRITER_FAILED");
  f.set_message("writing partition 'pt=x' failed permanently: PERMISSION_DENIED");
  v1::OffsetRange* r = f.add_ranges();
  r->set_topic(topic);
  r->set_partition(0);
  r->set_first_offset(first);
  r->set_last_offset(last);
  return f;
}

double CounterValue(prometheus::Registry& registry, const std::string& name,
                    const std::string& reason) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& m : family.metric) {
      for (const prometheus::ClientMetric::Label& l : m.label) {
        if (l.name == "reason" && l.value == reason) return m.counter.value;
      }
    }
  }
  return 0;
}

class DeadLetterQueueTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(cluster_.CreateTopic("src", 1)); }

  std::unique_ptr<DeadLetterQueue> Make(kafka::Properties extra = {}) {
    DeadLetterOptions options;
    options.connector = "orders";
    options.topic = "dlq";
    options.kafka_properties = {{"bootstrap.servers", cluster_.bootstrap_servers()}};
    for (auto& [k, v] : extra) options.kafka_properties[k] = v;
    options.read_timeout = absl::Seconds(5);
    auto queue = DeadLetterQueue::Create(options, &metrics_);
    EXPECT_OK(queue);
    return queue.ok() ? std::move(*queue) : nullptr;
  }

  testing::MockKafkaCluster cluster_;
  prometheus::Registry registry_;
  IngestMetrics metrics_{registry_, "orders"};
};

TEST_F(DeadLetterQueueTest, RangeIsReadBackAndLandsWithContextHeaders) {
  // Given five records in the source topic
  Produce(cluster_.bootstrap_servers(), "src", 5);
  auto queue = Make();
  ASSERT_NE(queue, nullptr);
  // When offsets 1..3 failed in the writer
  std::promise<absl::Status> done;
  queue->Submit(Failure("src", 1, 3), [&](const absl::Status& s) { done.set_value(s); });
  auto result = done.get_future();
  ASSERT_EQ(result.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  // Then the request succeeds and exactly those three records are in the dead-letter topic,
  // unchanged, with the context headers and their own headers
  ASSERT_OK(result.get());
  const auto records = ReadTopic(cluster_.bootstrap_servers(), "dlq", 3);
  ASSERT_EQ(records.size(), 3u);
  for (size_t i = 0; i < records.size(); ++i) {
    const int64_t offset = static_cast<int64_t>(i) + 1;
    EXPECT_EQ(records[i].key, absl::StrCat("k", offset));
    EXPECT_EQ(records[i].value, absl::StrCat("v", offset));
    const auto& h = records[i].headers;
    EXPECT_EQ(h.at(transform::kHeaderTopic), "src");
    EXPECT_EQ(h.at(transform::kHeaderPartition), "0");
    EXPECT_EQ(h.at(transform::kHeaderOffset), absl::StrCat(offset));
    EXPECT_EQ(h.at(transform::kHeaderCode), "WRITER_FAILED");
    EXPECT_NE(h.at(transform::kHeaderMessage).find("PERMISSION_DENIED"), std::string::npos);
    EXPECT_EQ(h.at(transform::kHeaderConnector), "orders");
    EXPECT_EQ(h.at("origin"), "test");
  }
  EXPECT_EQ(CounterValue(registry_, "mcsink_ingest_dead_lettered_records_total", "WRITER_FAILED"),
            3);
}

TEST_F(DeadLetterQueueTest, RangePastTheLogEndSendsWhatExists) {
  // Given two records, and a failure naming offsets 1..5 (the tail compacted away)
  Produce(cluster_.bootstrap_servers(), "src", 2);
  auto queue = Make();
  ASSERT_NE(queue, nullptr);
  std::promise<absl::Status> done;
  queue->Submit(Failure("src", 1, 5), [&](const absl::Status& s) { done.set_value(s); });
  auto result = done.get_future();
  ASSERT_EQ(result.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  // Then the one record there is sent and the request completes instead of waiting
  ASSERT_OK(result.get());
  const auto records = ReadTopic(cluster_.bootstrap_servers(), "dlq", 1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].value, "v1");
}

TEST_F(DeadLetterQueueTest, RecordInHandIsSentWithItsReason) {
  // Given a record too large to forward
  auto queue = Make();
  ASSERT_NE(queue, nullptr);
  v1::KafkaRecord record;
  record.set_partition(0);
  record.set_offset(42);
  record.set_key("big");
  record.set_value(std::string(1000, 'x'));
  // When it is dead-lettered
  std::promise<absl::Status> done;
  queue->SendRecord("src", record, kRecordTooLarge, "too large",
                    [&](const absl::Status& s) { done.set_value(s); });
  auto result = done.get_future();
  ASSERT_EQ(result.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  // Then it is in the dead-letter topic with its offset and the reason
  ASSERT_OK(result.get());
  const auto records = ReadTopic(cluster_.bootstrap_servers(), "dlq", 1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].value.size(), 1000u);
  EXPECT_EQ(records[0].headers.at(transform::kHeaderOffset), "42");
  EXPECT_EQ(records[0].headers.at(transform::kHeaderCode), "RECORD_TOO_LARGE");
  EXPECT_EQ(
      CounterValue(registry_, "mcsink_ingest_dead_lettered_records_total", "RECORD_TOO_LARGE"), 1);
}

TEST_F(DeadLetterQueueTest, FailureNamingNoRecordsIsRefusedNotTakenAsDone) {
  // Given a failure that names no offset range
  auto queue = Make();
  ASSERT_NE(queue, nullptr);
  v1::BatchFailure failure = Failure("src", 0, 0);
  failure.clear_ranges();
  // When it is submitted
  std::promise<absl::Status> done;
  queue->Submit(failure, [&](const absl::Status& s) { done.set_value(s); });
  auto result = done.get_future();
  ASSERT_EQ(result.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  // Then it fails, so the batch stays unacknowledged instead of its records being lost
  EXPECT_EQ(result.get().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DeadLetterQueueUnreachable, FailedDeliveryIsReportedNotAcknowledged) {
  // Given a dead-letter queue whose broker does not answer, with short timeouts
  DeadLetterOptions options;
  options.connector = "orders";
  options.topic = "dlq";
  options.kafka_properties = {{"bootstrap.servers", "127.0.0.1:1"}, {"message.timeout.ms", "500"}};
  options.read_timeout = absl::Milliseconds(500);
  ASSERT_OK_AND_ASSIGN(auto queue, DeadLetterQueue::Create(options));
  v1::KafkaRecord record;
  record.set_value("v");
  // When a record in hand and a range are dead-lettered
  std::promise<absl::Status> sent, read;
  queue->SendRecord("src", record, kRecordTooLarge, "m",
                    [&](const absl::Status& s) { sent.set_value(s); });
  queue->Submit(Failure("src", 0, 0), [&](const absl::Status& s) { read.set_value(s); });
  // Then both report failure (the caller keeps the batch unacknowledged)
  auto s1 = sent.get_future();
  auto s2 = read.get_future();
  ASSERT_EQ(s1.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  ASSERT_EQ(s2.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_FALSE(s1.get().ok());
  EXPECT_FALSE(s2.get().ok());
}

}  // namespace
}  // namespace mcsink::ingest
