// Exactly-once, ingest side, on a real Kafka broker with a test transform: a batch refused as
// FENCED (the writer refused its upload session) while its consumer still owns the partition is
// read back from Kafka and sent again under the same batch id with `redelivery` set, and its
// offsets are committed once the re-send is acknowledged; the FENCED part of a mixed answer is
// sent again while the rest goes to the dead-letter topic; a batch refused every time is given up
// on after five re-sends and stays uncommitted.
#include <map>
#include <set>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "ingest_fixture.h"
#include "mcsink/ingest/fenced_batches.h"
#include "mcsink/pipeline/failure_codes.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink::ingest {
namespace {

constexpr int32_t kFenced = 0;  // the partition whose first batch the test transform refuses

struct Received {
  v1::RecordBatch batch;
  bool fenced = false;  // answered with FENCED failures
  std::vector<v1::OffsetRange> fenced_ranges;
};

// Acknowledges every batch, except that the first batch carrying partition kFenced is answered
// FENCED (for its partition-0 ranges) the first `fence_times` times it comes; with `mixed`, the
// last record of that range is named as ERROR_TOPIC_UNDELIVERABLE instead of FENCED.
class FencingTransform : public TestTransform {
 public:
  FencingTransform(int fence_times, bool mixed) : fence_times_(fence_times), mixed_(mixed) {}

  void Answer(const v1::RecordBatch& batch, v1::Ack& ack) override {
    absl::MutexLock lock(&mu_);
    Received& received = received_.emplace_back();
    for (const v1::OffsetRange& r : batch.ranges()) {
      if (r.partition() != kFenced || batch.records_size() == 0) continue;
      if (target_ == 0) target_ = batch.batch_id();
      if (batch.batch_id() != target_ || fenced_ >= fence_times_) continue;
      v1::BatchFailure* f = ack.add_failures();
      f->set_code(pipeline::kFenced);
      f->set_message("session refused: partition 0 has a newer owner");
      v1::OffsetRange fenced = r;
      if (mixed_ && r.last_offset() > r.first_offset()) {
        fenced.set_last_offset(r.last_offset() - 1);
        v1::BatchFailure* other = ack.add_failures();
        other->set_code("ERROR_TOPIC_UNDELIVERABLE");
        other->set_message("the error topic refused the record");
        v1::OffsetRange* last = other->add_ranges();
        *last = r;
        last->set_first_offset(r.last_offset());
        last->set_epoch(0);
      }
      *f->add_ranges() = fenced;
      received.fenced = true;
      received.fenced_ranges.push_back(fenced);
    }
    if (received.fenced) ++fenced_;
    received.batch = batch;
  }

  std::vector<Received> received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }

 private:
  const int fence_times_;
  const bool mixed_;
  absl::Mutex mu_;
  uint64_t target_ ABSL_GUARDED_BY(mu_) = 0;
  int fenced_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Received> received_ ABSL_GUARDED_BY(mu_);
};

class IngestResendTest : public IngestServiceFixture {
 protected:
  IngestResendTest() : IngestServiceFixture("ingest-resend", /*partitions=*/2) {}

  void Start(int fence_times, bool mixed) {
    transform_ = std::make_unique<FencingTransform>(fence_times, mixed);
    ASSERT_NO_FATAL_FAILURE(StartTransform(transform_.get()));
    ASSERT_NO_FATAL_FAILURE(Configure(v1::FAILURE_POLICY_CONTINUE, /*dead_letter_partitions=*/1));
    ASSERT_NO_FATAL_FAILURE(StartService(ServiceOptions()));
    for (int32_t p = 0; p < 2; ++p) ASSERT_NO_FATAL_FAILURE(Produce(p, 20));
  }

  // The batches the transform received with id `batch_id`, in order.
  std::vector<Received> Sends(uint64_t batch_id) {
    std::vector<Received> out;
    for (Received& r : transform_->received()) {
      if (r.batch.batch_id() == batch_id) out.push_back(std::move(r));
    }
    return out;
  }

  // The first batch answered FENCED.
  Received FirstFenced() {
    for (Received& r : transform_->received()) {
      if (r.fenced) return std::move(r);
    }
    ADD_FAILURE() << "no batch was answered FENCED";
    return {};
  }

  std::unique_ptr<FencingTransform> transform_;
};

// Whether `resent` carries exactly the records of `ranges`, as `original` carried them.
void ExpectRecordsOf(const v1::RecordBatch& original, const v1::RecordBatch& resent,
                     const std::vector<v1::OffsetRange>& ranges) {
  std::map<std::pair<int32_t, int64_t>, std::string> expected;
  for (const v1::KafkaRecord& r : original.records()) {
    for (const v1::OffsetRange& range : ranges) {
      if (r.partition() == range.partition() && r.offset() >= range.first_offset() &&
          r.offset() <= range.last_offset()) {
        expected[{r.partition(), r.offset()}] = r.SerializeAsString();
      }
    }
  }
  std::map<std::pair<int32_t, int64_t>, std::string> actual;
  for (const v1::KafkaRecord& r : resent.records()) {
    actual[{r.partition(), r.offset()}] = r.SerializeAsString();
  }
  EXPECT_FALSE(expected.empty());
  EXPECT_EQ(actual, expected) << "the re-sent records are those of the ranges, built the same way";
}

TEST_F(IngestResendTest, FencedBatchOfAnOwnedPartitionIsSentAgainAndCommitted) {
  // Given a transform that answers FENCED to the first batch of partition 0, once
  Start(/*fence_times=*/1, /*mixed=*/false);
  // Then every offset of both partitions is committed
  const std::map<int32_t, int64_t> committed = WaitForCommitted({{0, 20}, {1, 20}});
  EXPECT_EQ(committed.at(0), 20);
  EXPECT_EQ(committed.at(1), 20);
  // And the fenced batch came again under the same id, with redelivery and the refused ranges
  const Received fenced = FirstFenced();
  const std::vector<Received> sends = Sends(fenced.batch.batch_id());
  ASSERT_EQ(sends.size(), 2u);
  EXPECT_FALSE(sends[0].batch.redelivery());
  const v1::RecordBatch& resent = sends[1].batch;
  EXPECT_TRUE(resent.redelivery());
  EXPECT_EQ(resent.topic(), topic_);
  EXPECT_EQ(resent.connector(), topic_);
  ASSERT_EQ(resent.ranges_size(), 1);
  EXPECT_EQ(resent.ranges(0).SerializeAsString(), fenced.fenced_ranges[0].SerializeAsString())
      << "the refused range, with its epoch";
  ExpectRecordsOf(sends[0].batch, resent, fenced.fenced_ranges);
  // And the re-send is counted, with no give-up
  EXPECT_EQ(Counter("mcsink_ingest_fenced_resends_total"), 1);
  EXPECT_EQ(Counter("mcsink_ingest_fenced_give_ups_total"), 0);
}

TEST_F(IngestResendTest, MixedAnswerResendsTheFencedPartAndDeadLettersTheOtherFailure) {
  // Given a transform that answers the first batch of partition 0 with FENCED for all but its last
  // record and ERROR_TOPIC_UNDELIVERABLE for that one
  Start(/*fence_times=*/1, /*mixed=*/true);
  // Then every offset is committed once both parts are done
  const std::map<int32_t, int64_t> committed = WaitForCommitted({{0, 20}, {1, 20}});
  EXPECT_EQ(committed.at(0), 20);
  EXPECT_EQ(committed.at(1), 20);
  // And only the fenced part came again
  const Received fenced = FirstFenced();
  const std::vector<Received> sends = Sends(fenced.batch.batch_id());
  ASSERT_EQ(sends.size(), 2u);
  EXPECT_TRUE(sends[1].batch.redelivery());
  ExpectRecordsOf(sends[0].batch, sends[1].batch, fenced.fenced_ranges);
  // And the other record went to the dead-letter topic
  EXPECT_EQ(Counter("mcsink_ingest_dead_lettered_records_total"), 1);
  ASSERT_OK_AND_ASSIGN(auto watermarks, admin_->Watermarks(config_.topics().dead_letter_topic()));
  int64_t dead = 0;
  for (const auto& w : watermarks) dead += w.high - w.low;
  EXPECT_EQ(dead, 1);
}

TEST_F(IngestResendTest, BatchRefusedEveryTimeIsGivenUpOnAfterFiveResendsAndNotCommitted) {
  // Given a transform that answers FENCED to the first batch of partition 0 every time
  Start(/*fence_times=*/1000, /*mixed=*/false);
  // Then the other partition is committed, and the batch is given up on
  EXPECT_EQ(WaitForCommitted({{1, 20}}).at(1), 20);
  for (const absl::Time until = absl::Now() + absl::Seconds(30);
       Counter("mcsink_ingest_fenced_give_ups_total") < 1 && absl::Now() < until;
       absl::SleepFor(absl::Milliseconds(100))) {
  }
  EXPECT_EQ(Counter("mcsink_ingest_fenced_give_ups_total"), 1);
  EXPECT_EQ(Counter("mcsink_ingest_fenced_resends_total"), FencedBatches::kDefaultMaxResends);
  const Received fenced = FirstFenced();
  EXPECT_EQ(Sends(fenced.batch.batch_id()).size(),
            static_cast<size_t>(FencedBatches::kDefaultMaxResends + 1));
  // And nothing of partition 0 from that batch on is committed
  auto offsets = admin_->CommittedOffsets(config_.consumer_group(), topic_);
  ASSERT_OK(offsets);
  const int64_t first = fenced.fenced_ranges[0].first_offset();
  EXPECT_LE(offsets->contains(0) ? offsets->at(0) : -1, first);
}

}  // namespace
}  // namespace mcsink::ingest
