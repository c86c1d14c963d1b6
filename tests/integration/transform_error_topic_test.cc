// The exactly-once error and dead-letter topics (docs/exactly-once.md) on the real Kafka broker:
// a failed record produced again (by a restarted writer, by a second live one, by a second
// transform service converting the same batch, by a repeated dead-letter job) is in the topic
// once for a read_committed reader; a batch's rows reach the writer only after its failed records
// are committed; and what a transaction costs per batch with errors (printed, not asserted).
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "librdkafka/rdkafkacpp.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/config/connector_config.h"
#include "mcsink/kafka/admin.h"
#include "mcsink/testing/kafka_fixture.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsink/testing/transform_test_support.h"
#include "mcsink/transform/error_topic.h"
#include "mcsink/transform/transform_service.h"
#include "prometheus/registry.h"

namespace mcsink::transform {
namespace {

// A record of the error (or dead-letter) topic, by the source record it names.
struct Landed {
  int32_t partition = -1;
  int64_t offset = -1;
  std::string value;
  std::string code;
};

// Every committed record of partition 0 of `topic` up to its end when the call starts, read with
// isolation.level=read_committed: a record of an aborted transaction is not among them, and the
// read waits for the commit markers of transactions committed before the call (the broker writes
// them just after the commit returns).
std::vector<Landed> ReadCommitted(const std::string& bootstrap, const std::string& topic) {
  std::vector<Landed> out;
  auto conf = kafka::MakeConf({{"bootstrap.servers", bootstrap},
                               {"group.id", topic + "-checker"},
                               {"enable.auto.commit", "false"},
                               {"enable.partition.eof", "true"},
                               {"isolation.level", "read_committed"}});
  EXPECT_OK(conf);
  if (!conf.ok()) return out;
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf->get(), err));
  // The log's end, asked of a read_uncommitted client (a read_committed one answers the last
  // stable offset, which stays short of a transaction until its markers are written).
  auto end_conf = kafka::MakeConf({{"bootstrap.servers", bootstrap},
                                   {"group.id", topic + "-checker"},
                                   {"isolation.level", "read_uncommitted"}});
  EXPECT_OK(end_conf);
  if (!end_conf.ok()) return out;
  std::unique_ptr<RdKafka::KafkaConsumer> end_query(
      RdKafka::KafkaConsumer::create(end_conf->get(), err));
  int64_t low = 0, high = 0;
  const RdKafka::ErrorCode watermarks =
      end_query->query_watermark_offsets(topic, 0, &low, &high, 10000);
  end_query->close();
  EXPECT_EQ(watermarks, RdKafka::ERR_NO_ERROR) << RdKafka::err2str(watermarks);
  std::vector<RdKafka::TopicPartition*> list = {RdKafka::TopicPartition::create(topic, 0, low)};
  consumer->assign(list);
  RdKafka::TopicPartition::destroy(list);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  int64_t position = low;
  while (position < high && absl::Now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      // Commit markers are skipped without a message: ask where the reader stands.
      std::vector<RdKafka::TopicPartition*> at = {RdKafka::TopicPartition::create(topic, 0)};
      if (consumer->position(at) == RdKafka::ERR_NO_ERROR && at[0]->offset() >= 0) {
        position = std::max(position, at[0]->offset());
      }
      RdKafka::TopicPartition::destroy(at);
      continue;
    }
    position = m->offset() + 1;
    Landed l;
    if (m->payload() != nullptr) l.value.assign(static_cast<const char*>(m->payload()), m->len());
    std::map<std::string, std::string> h;
    for (const auto& header : m->headers()->get_all()) {
      h[header.key()] = std::string(static_cast<const char*>(header.value()), header.value_size());
    }
    EXPECT_TRUE(absl::SimpleAtoi(h[kHeaderPartition], &l.partition));
    EXPECT_TRUE(absl::SimpleAtoi(h[kHeaderOffset], &l.offset));
    l.code = h[kHeaderCode];
    out.push_back(std::move(l));
  }
  EXPECT_GE(position, high) << topic << " not read to offset " << high << " within 30 s";
  consumer->close();
  return out;
}

// The source offsets named by `landed`, sorted (a duplicate shows twice).
std::vector<int64_t> Offsets(const std::vector<Landed>& landed) {
  std::vector<int64_t> out;
  for (const Landed& l : landed) out.push_back(l.offset);
  std::sort(out.begin(), out.end());
  return out;
}

v1::KafkaRecord Record(int32_t partition, int64_t offset) {
  v1::KafkaRecord r;
  r.set_partition(partition);
  r.set_offset(offset);
  r.set_key(absl::StrCat("k", offset));
  r.set_value(absl::StrCat("bad-", offset));
  // Now: the error topic keeps the source timestamp, and the broker's time retention (7 days)
  // would delete a record stamped years ago within minutes.
  r.set_timestamp_ms(absl::ToUnixMillis(absl::Now()));
  return r;
}

class ErrorTopicExactlyOnceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(bootstrap_, testing::KafkaFixtureBootstrap());
    ASSERT_OK_AND_ASSIGN(admin_, kafka::Admin::Create({{"bootstrap.servers", bootstrap_}}));
    connector_ = testing::UniqueTopicName("eo-errors");
    error_topic_ = "connect-error-" + connector_;
    offset_topic_ = "connect-offset-" + connector_;
    source_topic_ = connector_ + "-in";
    ASSERT_OK(admin_->CreateTopic({.name = source_topic_, .partitions = 1}));
    ASSERT_OK(admin_->CreateTopic({.name = error_topic_, .partitions = 1}));
    ASSERT_OK(admin_->CreateTopic(
        {.name = offset_topic_, .partitions = 3, .configs = {{"cleanup.policy", "compact"}}}));
  }

  std::unique_ptr<ErrorTopicWriter> NewWriter(const std::string& role = "errors") {
    ErrorTopicOptions options;
    options.properties = {{"bootstrap.servers", bootstrap_}};
    options.connector = connector_;
    options.role = role;
    options.offset_topic = offset_topic_;
    options.consumer_group = "connect-" + connector_;
    auto writer = ErrorTopicWriter::Create(std::move(options));
    EXPECT_OK(writer);
    return writer.ok() ? std::move(*writer) : nullptr;
  }

  // Sends the records of source partition 0 at `offsets` through `writer` and waits for every
  // outcome; returns them in order.
  std::vector<absl::Status> SendAll(ErrorTopicWriter& writer, const std::vector<int64_t>& offsets,
                                    const std::string& destination = "") {
    struct Outcome {
      absl::Mutex mu;
      std::vector<absl::Status> statuses;
      size_t left = 0;
    } outcome;
    outcome.statuses.resize(offsets.size());
    outcome.left = offsets.size();
    std::vector<v1::KafkaRecord> records;
    for (int64_t o : offsets) records.push_back(Record(0, o));
    for (size_t i = 0; i < records.size(); ++i) {
      writer.Send(destination.empty() ? error_topic_ : destination,
                  {source_topic_, &records[i], "INVALID_UTF8", "", "not UTF-8"},
                  [&outcome, i](const absl::Status& s) {
                    absl::MutexLock lock(&outcome.mu);
                    outcome.statuses[i] = s;
                    --outcome.left;
                  });
    }
    absl::MutexLock lock(&outcome.mu);
    auto all = [&outcome]() { return outcome.left == 0; };
    EXPECT_TRUE(outcome.mu.AwaitWithTimeout(absl::Condition(&all), absl::Seconds(60)));
    return outcome.statuses;
  }

  void ExpectAllOk(const std::vector<absl::Status>& statuses) {
    for (const absl::Status& s : statuses) EXPECT_OK(s);
  }

  std::string bootstrap_, connector_, source_topic_, error_topic_, offset_topic_;
  std::unique_ptr<kafka::Admin> admin_;
};

TEST_F(ErrorTopicExactlyOnceTest, ARecordSentAgainByARestartedWriterLandsOnce) {
  // Given records 5 and 6 in the error topic, produced by a writer that then went away
  {
    auto first = NewWriter();
    ASSERT_NE(first, nullptr);
    ExpectAllOk(SendAll(*first, {5, 6}));
  }
  // When a new writer (a restarted transform) is given 5, 6 again and 7
  auto second = NewWriter();
  ASSERT_NE(second, nullptr);
  const std::vector<absl::Status> again = SendAll(*second, {5, 6, 7});
  // Then all are reported delivered, and each is in the topic once
  ExpectAllOk(again);
  EXPECT_EQ(Offsets(ReadCommitted(bootstrap_, error_topic_)), (std::vector<int64_t>{5, 6, 7}));
}

TEST_F(ErrorTopicExactlyOnceTest, TwoLiveWritersGivenTheSameRecordsPutEachInTheTopicOnce) {
  // Given two live writers of the same connector (a zombie transform and its successor)
  auto a = NewWriter();
  auto b = NewWriter();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  // When A produces 5, B produces 5 and 6, and A (which never saw 6) produces 5, 6 and 7
  ExpectAllOk(SendAll(*a, {5}));
  ExpectAllOk(SendAll(*b, {5, 6}));
  ExpectAllOk(SendAll(*a, {5, 6, 7}));
  // Then each is in the topic once: A was fenced by B, and learned of 6 before producing again
  EXPECT_EQ(Offsets(ReadCommitted(bootstrap_, error_topic_)), (std::vector<int64_t>{5, 6, 7}));
}

TEST_F(ErrorTopicExactlyOnceTest, ARepeatedDeadLetterJobLandsOnceBesideTheErrorRecords) {
  // Given the default layout: the error and dead-letter topics are one topic; offset 3 failed
  // conversion and went there from transform
  auto errors = NewWriter("errors");
  ASSERT_NE(errors, nullptr);
  ExpectAllOk(SendAll(*errors, {3}));
  // When ingest dead-letters offsets 10..12, then (after a restart) the same job again
  {
    auto dead_letters = NewWriter("dead-letter");
    ASSERT_NE(dead_letters, nullptr);
    ExpectAllOk(SendAll(*dead_letters, {10, 11, 12}));
  }
  auto restarted = NewWriter("dead-letter");
  ASSERT_NE(restarted, nullptr);
  ExpectAllOk(SendAll(*restarted, {10, 11, 12}));
  // Then each is there once, and the dead-letter spans did not hide the error record (or the
  // reverse)
  EXPECT_EQ(Offsets(ReadCommitted(bootstrap_, error_topic_)),
            (std::vector<int64_t>{3, 10, 11, 12}));
}

TEST_F(ErrorTopicExactlyOnceTest, BelowTheGroupsCommittedOffsetAStaleBatchProducesNothing) {
  // Given offsets 5 and 50 produced, then the group committed offset 40 of partition 0
  {
    auto first = NewWriter();
    ASSERT_NE(first, nullptr);
    ExpectAllOk(SendAll(*first, {5, 50}));
  }
  ASSERT_OK(admin_->AlterCommittedOffsets("connect-" + connector_, source_topic_, {{0, 40}}));
  // When a new writer (its spans settled below 40 on load) is given a stale batch's failed
  // records 5 and 7 (below the committed offset: the live owner has handled them), 50 again
  // and 60
  auto second = NewWriter();
  ASSERT_NE(second, nullptr);
  ExpectAllOk(SendAll(*second, {5, 7, 50, 60}));
  // Then only 60 is new: 5 and 50 are there once, 7 was never produced
  EXPECT_EQ(Offsets(ReadCommitted(bootstrap_, error_topic_)), (std::vector<int64_t>{5, 50, 60}));
}

TEST_F(ErrorTopicExactlyOnceTest, AnUndeliverableRecordFailsWithoutEnteringTheSpans) {
  // Given a destination topic that does not exist (the broker does not create topics on use)
  ErrorTopicOptions options;
  options.properties = {{"bootstrap.servers", bootstrap_},
                        {"message.timeout.ms", "2000"},
                        {"topic.metadata.propagation.max.ms", "1000"}};
  options.connector = connector_;
  options.offset_topic = offset_topic_;
  ASSERT_OK_AND_ASSIGN(auto writer, ErrorTopicWriter::Create(options));
  const std::string missing = error_topic_ + "-missing";
  // When a record is sent there
  const std::vector<absl::Status> failed = SendAll(*writer, {8}, missing);
  // Then it fails
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_FALSE(failed[0].ok());
  // And once the topic exists, a restarted writer (whose producer does not remember the topic
  // as unknown) produces it: the aborted transaction did not count it as produced
  writer.reset();
  ASSERT_OK(admin_->CreateTopic({.name = missing, .partitions = 1}));
  auto restarted = NewWriter();
  ASSERT_NE(restarted, nullptr);
  ExpectAllOk(SendAll(*restarted, {8}, missing));
  EXPECT_EQ(Offsets(ReadCommitted(bootstrap_, missing)), (std::vector<int64_t>{8}));
}

TEST_F(ErrorTopicExactlyOnceTest, ReportsTheCostOfATransactionPerBatch) {
  // One transaction per batch with errors: N batches of one failed record each, one after the
  // other, exactly-once against at-least-once. Printed for the report; not a pass criterion.
  constexpr int kBatches = 40;
  auto eo = NewWriter();
  ASSERT_NE(eo, nullptr);
  ExpectAllOk(SendAll(*eo, {0}));  // producer, transactions and spans initialized
  absl::Time start = absl::Now();
  for (int i = 1; i <= kBatches; ++i) ExpectAllOk(SendAll(*eo, {i}));
  const absl::Duration per_eo = (absl::Now() - start) / kBatches;
  start = absl::Now();
  for (int i = 1; i <= kBatches; ++i) {
    ExpectAllOk(
        SendAll(*eo, {1000 + 10 * i, 1001 + 10 * i, 1002 + 10 * i, 1003 + 10 * i, 1004 + 10 * i,
                      1005 + 10 * i, 1006 + 10 * i, 1007 + 10 * i, 1008 + 10 * i, 1009 + 10 * i}));
  }
  const absl::Duration per_eo_10 = (absl::Now() - start) / kBatches;

  ASSERT_OK_AND_ASSIGN(auto alo,
                       ErrorTopicWriter::Create({{"bootstrap.servers", bootstrap_}}, connector_));
  ExpectAllOk(SendAll(*alo, {0}));
  start = absl::Now();
  for (int i = 1; i <= kBatches; ++i) ExpectAllOk(SendAll(*alo, {i}));
  const absl::Duration per_alo = (absl::Now() - start) / kBatches;
  std::cout << "error topic, per batch with errors (" << kBatches
            << " batches, sequential): exactly-once 1 record " << absl::FormatDuration(per_eo)
            << ", 10 records " << absl::FormatDuration(per_eo_10) << "; at-least-once 1 record "
            << absl::FormatDuration(per_alo) << std::endl;
  EXPECT_EQ(ReadCommitted(bootstrap_, error_topic_).size(),
            static_cast<size_t>(1 + kBatches + 10 * kBatches + 1 + kBatches));
}

// --- Through the transform service ----------------------------------------------------------

// A writer that, on each RowBatch, first looks at what a read_committed reader finds in the
// error topic at that moment, then acknowledges.
class PeekingWriter : public testing::FakeWriter {
 public:
  PeekingWriter(std::string bootstrap, std::string error_topic)
      : bootstrap_(std::move(bootstrap)), error_topic_(std::move(error_topic)) {}
  std::vector<size_t> committed_when_rows_arrived() {
    absl::MutexLock lock(&mu_);
    return committed_when_rows_arrived_;
  }

 protected:
  void Received(const v1::RowBatch&) override {
    const size_t committed = ReadCommitted(bootstrap_, error_topic_).size();
    absl::MutexLock lock(&mu_);
    committed_when_rows_arrived_.push_back(committed);
  }

 private:
  const std::string bootstrap_, error_topic_;
  absl::Mutex mu_;
  std::vector<size_t> committed_when_rows_arrived_ ABSL_GUARDED_BY(mu_);
};

class TransformErrorTopicTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(bootstrap_, testing::KafkaFixtureBootstrap());
    ASSERT_OK_AND_ASSIGN(admin_, kafka::Admin::Create({{"bootstrap.servers", bootstrap_}}));
    const std::string name = testing::UniqueTopicName("eo-transform");
    ASSERT_OK_AND_ASSIGN(config_, config::Normalize(testing::TestConnector(
                                      v1::ConnectorConfig(), name, name + "-in", bootstrap_)));
    ASSERT_OK(admin_->CreateTopic({.name = config_.topics().error_topic(), .partitions = 1}));
    ASSERT_OK(admin_->CreateTopic({.name = config_.topics().offset_topic(),
                                   .partitions = 2,
                                   .configs = {{"cleanup.policy", "compact"}}}));
    writer_ = std::make_unique<PeekingWriter>(bootstrap_, config_.topics().error_topic());
    ASSERT_OK_AND_ASSIGN(writer_server_, GrpcServer::Start({.services = {{writer_.get(), "w"}}}));
  }

  // A transform service of the connector, as one replica of it.
  using Replica = testing::TransformUnderTest;

  std::unique_ptr<Replica> StartReplica() {
    TransformServiceOptions options;
    options.connector = config_;
    options.schema = testing::SeedTableSchema();
    options.kafka_properties = {{"bootstrap.servers", bootstrap_}};
    options.writer_channel = writer_server_->InProcessChannel();
    auto replica = Replica::Start(options, registry_);
    EXPECT_OK(replica);
    return replica.ok() ? std::move(*replica) : nullptr;
  }

  // Offsets 10..13 of partition 4; offset 12 is not valid UTF-8. Stamped now: see Record().
  v1::RecordBatch BatchWithABadRecord(uint64_t id) {
    return testing::MakeRecordBatch(
        {.id = id, .topic = config_.source_topic(), .partition = 4, .first_offset = 10},
        {"a", "b", std::string("\xff\xfe", 2), "d"});
  }

  static v1::Ack Convert(Replica& replica, const v1::RecordBatch& batch) {
    return replica.Convert(batch);
  }

  std::string bootstrap_;
  std::unique_ptr<kafka::Admin> admin_;
  v1::ConnectorConfig config_;
  prometheus::Registry registry_;
  std::unique_ptr<PeekingWriter> writer_;
  std::unique_ptr<GrpcServer> writer_server_;
};

TEST_F(TransformErrorTopicTest, ABatchsRowsReachTheWriterOnlyAfterItsFailedRecordIsCommitted) {
  // Given a transform service and a batch whose offset 12 fails conversion
  auto replica = StartReplica();
  ASSERT_NE(replica, nullptr);
  // When it is converted
  const v1::Ack ack = Convert(*replica, BatchWithABadRecord(1));
  // Then the ack is clean, and when the rows arrived the failed record was already readable
  // (committed) in the error topic
  EXPECT_EQ(ack.batch_id(), 1u);
  EXPECT_EQ(ack.failures_size(), 0);
  EXPECT_EQ(writer_->committed_when_rows_arrived(), (std::vector<size_t>{1}));
}

TEST_F(TransformErrorTopicTest, TheSameBatchConvertedByTwoServicesPutsItsBadRecordInTheTopicOnce) {
  // Given two transform replicas of one connector (an ingest stream moved from one to the other)
  auto first = StartReplica();
  auto second = StartReplica();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  // When both convert the same batch, and the first converts it again (a redelivery)
  EXPECT_EQ(Convert(*first, BatchWithABadRecord(1)).failures_size(), 0);
  EXPECT_EQ(Convert(*second, BatchWithABadRecord(1)).failures_size(), 0);
  EXPECT_EQ(Convert(*first, BatchWithABadRecord(2)).failures_size(), 0);
  // Then offset 12 is in the error topic once, with its reason
  const std::vector<Landed> landed = ReadCommitted(bootstrap_, config_.topics().error_topic());
  ASSERT_EQ(landed.size(), 1u);
  EXPECT_EQ(landed[0].partition, 4);
  EXPECT_EQ(landed[0].offset, 12);
  EXPECT_EQ(landed[0].code, "INVALID_UTF8");
  EXPECT_EQ(landed[0].value, std::string("\xff\xfe", 2));
  // And every conversion still sent its rows to the writer
  EXPECT_EQ(writer_->committed_when_rows_arrived(), (std::vector<size_t>{1, 1, 1}));
}

}  // namespace
}  // namespace mcsink::transform
