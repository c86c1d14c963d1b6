// The ingest consumer threads against a real Kafka broker: batches with exact offset ranges,
// commits of the acknowledged prefix only, pausing under backpressure, and the initial position.
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "mcsink/ingest/consumer_worker.h"
#include "mcsink/ingest/ingest_metrics.h"
#include "mcsink/kafka/admin.h"
#include "mcsink/testing/kafka_fixture.h"
#include "mcsink/testing/status_matchers.h"
#include "prometheus/registry.h"

namespace mcsink::ingest {
namespace {

// Collects batches; acknowledges each one unless told to hold it.
class RecordingSink : public BatchSink {
 public:
  absl::Status Send(v1::RecordBatch batch) override {
    absl::MutexLock lock(&mu_);
    for (const v1::KafkaRecord& r : batch.records()) {
      records_[{r.partition(), r.offset()}] = r.value();
      bytes_ += static_cast<int64_t>(r.value().size() + r.key().size());
    }
    batches_.push_back(std::move(batch));
    return absl::OkStatus();
  }
  int64_t records() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int64_t>(records_.size());
  }
  int64_t bytes() const {
    absl::MutexLock lock(&mu_);
    return bytes_;
  }
  // Waits until `count` distinct records arrived.
  bool WaitForRecords(int64_t count, absl::Duration timeout) const {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return static_cast<int64_t>(records_.size()) >= count;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }
  std::vector<v1::RecordBatch> TakeBatches() {
    absl::MutexLock lock(&mu_);
    std::vector<v1::RecordBatch> out;
    out.swap(batches_);
    return out;
  }

  mutable absl::Mutex mu_;
  std::map<std::pair<int32_t, int64_t>, std::string> records_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::RecordBatch> batches_ ABSL_GUARDED_BY(mu_);
  int64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

class IngestConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(bootstrap_, testing::KafkaFixtureBootstrap());
    ASSERT_OK_AND_ASSIGN(admin_, kafka::Admin::Create({{"bootstrap.servers", bootstrap_}}));
    topic_ = testing::UniqueTopicName("ingest");
    group_ = "connect-" + topic_;
  }

  ConsumerOptions Options() const {
    ConsumerOptions o;
    o.connector = topic_;
    o.kafka_properties = {{"bootstrap.servers", bootstrap_},
                          {"session.timeout.ms", "6000"},
                          {"heartbeat.interval.ms", "500"}};
    o.group_id = group_;
    o.topic = topic_;
    o.max_batch_records = 500;
    o.linger = absl::Milliseconds(20);
    o.commit_interval = absl::Milliseconds(200);
    return o;
  }

  absl::Status Produce(int64_t count, size_t value_size = 16) {
    return testing::ProduceTestRecords(
        bootstrap_, topic_, count, [](int64_t i) { return absl::StrCat(i); },
        [value_size](int64_t i) {
          std::string v = absl::StrCat("v", i, "-");
          v.resize(std::max(value_size, v.size()), 'x');
          return v;
        });
  }

  // Acknowledges every batch that `sink` received, through the worker that sent it, except
  // those `hold` picks, which it returns.
  static std::vector<v1::RecordBatch> AckAll(
      RecordingSink& sink, const std::vector<ConsumerWorker*>& workers,
      const std::function<bool(const v1::RecordBatch&)>& hold = nullptr) {
    std::vector<v1::RecordBatch> held;
    for (v1::RecordBatch& b : sink.TakeBatches()) {
      if (hold && hold(b)) {
        held.push_back(std::move(b));
        continue;
      }
      workers[static_cast<size_t>(ConsumerWorker::WorkerIndexOf(b.batch_id()))]->OnAck(
          b.batch_id());
    }
    return held;
  }

  std::string bootstrap_, topic_, group_;
  std::unique_ptr<kafka::Admin> admin_;
};

TEST_F(IngestConsumerTest, TwoWorkersDeliverEveryRecordOnceAndCommitTheLogEnd) {
  ASSERT_OK(admin_->CreateTopic({.name = topic_, .partitions = 6}));
  constexpr int64_t kRecords = 20'000;

  RecordingSink sink;
  ASSERT_OK_AND_ASSIGN(auto w0, ConsumerWorker::Create(Options(), &sink, 0));
  ASSERT_OK_AND_ASSIGN(auto w1, ConsumerWorker::Create(Options(), &sink, 1));
  w0->Start();
  w1->Start();
  // Once the group has settled with both members, the records are produced.
  const absl::Time settle = absl::Now() + absl::Seconds(60);
  while ((w0->stats().assignment.empty() || w1->stats().assignment.empty() ||
          w0->stats().assignment.size() + w1->stats().assignment.size() != 6) &&
         absl::Now() < settle) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_FALSE(w0->stats().assignment.empty());
  ASSERT_FALSE(w1->stats().assignment.empty());
  ASSERT_OK(Produce(kRecords));
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  std::set<std::pair<int32_t, int64_t>> in_batches;
  int64_t duplicates = 0;
  while (sink.records() < kRecords && absl::Now() < deadline) {
    // Every batch's ranges must cover exactly its records' offsets.
    for (const v1::RecordBatch& b : sink.TakeBatches()) {
      std::map<int32_t, std::pair<int64_t, int64_t>> span;
      for (const v1::KafkaRecord& r : b.records()) {
        if (!in_batches.emplace(r.partition(), r.offset()).second) ++duplicates;
        auto [it, fresh] = span.try_emplace(r.partition(), r.offset(), r.offset());
        it->second.first = std::min(it->second.first, r.offset());
        it->second.second = std::max(it->second.second, r.offset());
      }
      ASSERT_EQ(b.ranges_size(), static_cast<int>(span.size()));
      for (const v1::OffsetRange& range : b.ranges()) {
        EXPECT_EQ(range.topic(), topic_);
        EXPECT_EQ(range.first_offset(), span.at(range.partition()).first);
        EXPECT_EQ(range.last_offset(), span.at(range.partition()).second);
      }
      (ConsumerWorker::WorkerIndexOf(b.batch_id()) == 0 ? w0 : w1)->OnAck(b.batch_id());
    }
    absl::SleepFor(absl::Milliseconds(20));  // polling the sink, not waiting for a thread
  }
  ASSERT_EQ(sink.records(), kRecords);
  AckAll(sink, {w0.get(), w1.get()});
  EXPECT_EQ(duplicates, 0);
  EXPECT_GT(w0->stats().records, 0) << "both workers share the partitions";
  EXPECT_GT(w1->stats().records, 0);

  w0->Stop(absl::Seconds(10));
  w1->Stop(absl::Seconds(10));
  ASSERT_OK_AND_ASSIGN(const auto watermarks, admin_->Watermarks(topic_));
  ASSERT_OK_AND_ASSIGN(const auto committed, admin_->CommittedOffsets(group_, topic_));
  for (const kafka::PartitionWatermarks& w : watermarks) {
    EXPECT_EQ(committed.at(w.partition), w.high) << "partition " << w.partition;
  }
}

TEST_F(IngestConsumerTest, CommitsOnlyUpToTheFirstUnacknowledgedBatchAndRereadsItAfterRestart) {
  ASSERT_OK(admin_->CreateTopic({.name = topic_, .partitions = 2}));
  ASSERT_OK(Produce(4'000));

  // Hold back the first batch that covers partition 0; acknowledge everything else.
  RecordingSink sink;
  ASSERT_OK_AND_ASSIGN(auto worker, ConsumerWorker::Create(Options(), &sink, 0));
  worker->Start();
  std::vector<v1::RecordBatch> held;
  bool holding = false;
  auto hold_first_p0 = [&holding](const v1::RecordBatch& b) {
    if (holding) return false;
    for (const v1::OffsetRange& r : b.ranges()) {
      if (r.partition() == 0) holding = true;
    }
    return holding;
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (sink.records() < 4'000 && absl::Now() < deadline) {
    for (auto& b : AckAll(sink, {worker.get()}, hold_first_p0)) held.push_back(std::move(b));
    absl::SleepFor(absl::Milliseconds(20));
  }
  for (auto& b : AckAll(sink, {worker.get()}, hold_first_p0)) held.push_back(std::move(b));
  ASSERT_EQ(sink.records(), 4'000);
  ASSERT_EQ(held.size(), 1u);
  worker->Stop(absl::Seconds(1));  // the held batch never comes back

  int64_t held_first_p0 = -1;
  for (const v1::OffsetRange& r : held[0].ranges()) {
    if (r.partition() == 0) held_first_p0 = r.first_offset();
  }
  ASSERT_OK_AND_ASSIGN(const auto watermarks, admin_->Watermarks(topic_));
  ASSERT_OK_AND_ASSIGN(const auto committed, admin_->CommittedOffsets(group_, topic_));
  if (held_first_p0 == 0) {
    EXPECT_FALSE(committed.contains(0)) << "nothing before the held batch";
  } else {
    EXPECT_EQ(committed.at(0), held_first_p0);
  }

  // A restarted worker in the same group reads partition 0 again from the held batch on.
  RecordingSink again;
  ASSERT_OK_AND_ASSIGN(auto restarted, ConsumerWorker::Create(Options(), &again, 0));
  restarted->Start();
  const int64_t expected =
      watermarks[0].high - held_first_p0 + (watermarks[1].high - committed.at(1));
  EXPECT_TRUE(again.WaitForRecords(expected, absl::Seconds(60)));
  AckAll(again, {restarted.get()});
  restarted->Stop(absl::Seconds(5));
  absl::MutexLock lock(&again.mu_);
  EXPECT_EQ(static_cast<int64_t>(again.records_.size()), expected);
  EXPECT_TRUE(again.records_.contains({0, held_first_p0}));
}

TEST_F(IngestConsumerTest, PausesWhenTooMuchIsUnacknowledgedAndResumesOnAcks) {
  ASSERT_OK(admin_->CreateTopic({.name = topic_, .partitions = 3}));
  constexpr int64_t kRecords = 5'000;
  ASSERT_OK(Produce(kRecords, 1000));  // about 5 MB

  RecordingSink sink;
  ConsumerOptions options = Options();
  options.max_in_flight_bytes = 256 << 10;
  options.max_batch_bytes = 64 << 10;
  ASSERT_OK_AND_ASSIGN(auto worker, ConsumerWorker::Create(options, &sink, 0));
  worker->Start();

  // With no acknowledgement the worker stops taking records near its bound, and pauses its
  // partitions once that lasts longer than its hold...
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (worker->stats().pauses == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_GE(worker->stats().pauses, 1);
  absl::SleepFor(absl::Seconds(1));  // give it time to (wrongly) read on
  // Paused at the bound; what was already fetched may finish one batch per partition.
  EXPECT_LE(sink.bytes(), options.max_in_flight_bytes + 3 * options.max_batch_bytes);
  EXPECT_LT(sink.records(), kRecords);

  // ...and takes the rest once acknowledgements flow.
  const absl::Time deadline2 = absl::Now() + absl::Seconds(60);
  while (sink.records() < kRecords && absl::Now() < deadline2) {
    AckAll(sink, {worker.get()});
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(sink.records(), kRecords);
  AckAll(sink, {worker.get()});
  worker->Stop(absl::Seconds(5));
}

TEST_F(IngestConsumerTest, HoldsWithoutPausingWhenAcknowledgementsComeWithinTheHold) {
  // Given a worker with a small bound and acknowledgements that come every 200 ms, well within
  // its 5 s hold
  ASSERT_OK(admin_->CreateTopic({.name = topic_, .partitions = 3}));
  constexpr int64_t kRecords = 5'000;
  ASSERT_OK(Produce(kRecords, 1000));  // about 5 MB: 20 times the bound
  RecordingSink sink;
  ConsumerOptions options = Options();
  options.max_in_flight_bytes = 256 << 10;
  options.max_batch_bytes = 64 << 10;
  options.backpressure_hold = absl::Seconds(5);
  ASSERT_OK_AND_ASSIGN(auto worker, ConsumerWorker::Create(options, &sink, 0));
  worker->Start();

  // When it reads everything
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (sink.records() < kRecords && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
    AckAll(sink, {worker.get()});
  }
  EXPECT_EQ(sink.records(), kRecords);
  AckAll(sink, {worker.get()});
  worker->Stop(absl::Seconds(5));

  // Then it held back at its bound many times and never paused a partition in librdkafka
  // (which would have dropped what librdkafka had prefetched)
  EXPECT_GE(worker->stats().holds, 5);
  EXPECT_EQ(worker->stats().pauses, 0);
}

TEST_F(IngestConsumerTest, InFlightGaugesFollowEverySendAndAcknowledgement) {
  // Given a worker whose commit interval never comes round, with metrics
  ASSERT_OK(admin_->CreateTopic({.name = topic_, .partitions = 1}));
  ASSERT_OK(Produce(1000));
  prometheus::Registry registry;
  IngestMetrics metrics(registry, topic_);
  auto gauge = [&](const std::string& name) {
    double sum = 0;
    for (const prometheus::MetricFamily& family : registry.Collect()) {
      if (family.name != name) continue;
      for (const prometheus::ClientMetric& m : family.metric) sum += m.gauge.value;
    }
    return sum;
  };
  RecordingSink sink;
  ConsumerOptions options = Options();
  options.commit_interval = absl::Hours(1);
  ASSERT_OK_AND_ASSIGN(auto worker, ConsumerWorker::Create(options, &sink, 0, &metrics));
  worker->Start();

  // When its batches are sent and not acknowledged, the gauges show them
  ASSERT_TRUE(sink.WaitForRecords(1000, absl::Seconds(60)));
  const absl::Time shown_by = absl::Now() + absl::Seconds(10);
  while (gauge("mcsink_ingest_in_flight_batches") < 2 && absl::Now() < shown_by) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_GE(gauge("mcsink_ingest_in_flight_batches"), 2);  // 1000 records, 500 a batch
  EXPECT_GT(gauge("mcsink_ingest_in_flight_bytes"), 1000 * 16);

  // And once they are acknowledged, the gauges fall to zero
  AckAll(sink, {worker.get()});
  const absl::Time cleared_by = absl::Now() + absl::Seconds(10);
  while (gauge("mcsink_ingest_in_flight_bytes") > 0 && absl::Now() < cleared_by) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(gauge("mcsink_ingest_in_flight_batches"), 0);
  EXPECT_EQ(gauge("mcsink_ingest_in_flight_bytes"), 0);
  worker->Stop(absl::Seconds(5));
}

TEST_F(IngestConsumerTest, APartitionPausedBeforeARebalanceThatGivesItBackIsReadAgain) {
  // Given a worker paused by backpressure (nothing acknowledged) on a two-partition topic
  ASSERT_OK(admin_->CreateTopic({.name = topic_, .partitions = 2}));
  constexpr int64_t kRecords = 4'000;
  ASSERT_OK(Produce(kRecords, 1000));
  RecordingSink sink;
  ConsumerOptions options = Options();
  options.max_in_flight_bytes = 256 << 10;
  options.max_batch_bytes = 64 << 10;
  options.revoke_timeout = absl::Seconds(1);  // the held batches are not waited for long
  ASSERT_OK_AND_ASSIGN(auto first, ConsumerWorker::Create(options, &sink, 0));
  first->Start();
  const absl::Time paused_by = absl::Now() + absl::Seconds(60);
  while (first->stats().pauses == 0 && absl::Now() < paused_by) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_GE(first->stats().pauses, 1);

  // When a second worker joins (a rebalance gives the first one of its partitions back, which
  // librdkafka still holds paused) and acknowledgements then flow
  ASSERT_OK_AND_ASSIGN(auto second, ConsumerWorker::Create(options, &sink, 1));
  second->Start();
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  while (sink.records() < kRecords && absl::Now() < deadline) {
    AckAll(sink, {first.get(), second.get()});
    absl::SleepFor(absl::Milliseconds(20));
  }

  // Then every record is read: neither partition stays paused
  EXPECT_EQ(sink.records(), kRecords);
  EXPECT_EQ(first->stats().assignment.size() + second->stats().assignment.size(), 2u);
  AckAll(sink, {first.get(), second.get()});
  second->Stop(absl::Seconds(5));
  first->Stop(absl::Seconds(5));
}

TEST_F(IngestConsumerTest, LatestStartSkipsWhatWasThereBeforeTheGroupExisted) {
  ASSERT_OK(admin_->CreateTopic({.name = topic_, .partitions = 1}));
  ASSERT_OK(Produce(100));

  RecordingSink sink;
  ConsumerOptions options = Options();
  options.start_from_earliest = false;
  ASSERT_OK_AND_ASSIGN(auto worker, ConsumerWorker::Create(options, &sink, 0));
  worker->Start();
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (worker->stats().assignment.empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_FALSE(worker->stats().assignment.empty());
  // The consumer resolves "latest" lazily, so new records are produced in rounds until the first
  // arrives; none of the 100 older ones may come.
  const absl::Time until = absl::Now() + absl::Seconds(60);
  while (sink.records() == 0 && absl::Now() < until) {
    ASSERT_OK(Produce(10));
    sink.WaitForRecords(1, absl::Seconds(2));
  }
  ASSERT_GT(sink.records(), 0);
  worker->Stop(absl::Seconds(1));
  absl::MutexLock lock(&sink.mu_);
  EXPECT_GE(sink.records_.begin()->first.second, 100) << "a record from before the group existed";
}

}  // namespace
}  // namespace mcsink::ingest
