// WriterService over a real gRPC stream (in-process server) into the in-memory Tunnel backend:
// acknowledgements carry the upstream's batch ids, a permanent Tunnel failure comes back as a
// negative acknowledgement, and the produce-to-commit latency is observed after a commit.
#include "mcsink/writer/writer_service.h"

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "fake_tunnel_backend.h"
#include "gtest/gtest.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/maxcompute/record_encoder.h"
#include "mcsink/pipeline/failure_codes.h"
#include "mcsink/testing/status_matchers.h"
#include "prometheus/registry.h"

namespace mcsink::writer {
namespace {

using ::mcsink::writer::testing::FakeTunnelBackend;

maxcompute::TableSchema OneColumnSchema() {
  maxcompute::TableSchema schema;
  schema.columns = {{"value", {maxcompute::TypeKind::kString}}};
  schema.partition_columns = {{"pt", {maxcompute::TypeKind::kString}}};
  return schema;
}

// One group of `rows` rows in partition `pt`, covering offsets [first, first + rows) of t/3.
v1::RowBatch MakeBatch(uint64_t id, const std::string& pt, int64_t first, int rows) {
  v1::RowBatch batch;
  batch.set_connector("c");
  batch.set_batch_id(id);
  v1::RowGroup* group = batch.add_groups();
  group->set_pt(pt);
  group->set_row_count(static_cast<uint64_t>(rows));
  maxcompute::RecordEncoder encoder(group->mutable_encoded_rows());
  for (int i = 0; i < rows; ++i) {
    encoder.WriteBytes(0, "v" + std::to_string(first + i));
    group->add_row_crcs(encoder.EndRecord());
  }
  v1::OffsetRange* range = batch.add_ranges();
  range->set_topic("t");
  range->set_partition(3);
  range->set_first_offset(first);
  range->set_last_offset(first + rows - 1);
  return batch;
}

const prometheus::ClientMetric* FindMetric(const std::vector<prometheus::MetricFamily>& families,
                                           const std::string& name) {
  for (const prometheus::MetricFamily& family : families) {
    if (family.name == name && !family.metric.empty()) return &family.metric[0];
  }
  return nullptr;
}

class WriterServiceTest : public ::testing::Test {
 protected:
  void Start(CommitJournal* journal = nullptr) {
    TableWriterOptions options;
    options.table = "sink";
    options.commit_interval = absl::Milliseconds(100);  // commit soon after each batch
    options.initial_backoff = absl::Milliseconds(1);
    options.max_attempts = 2;
    ASSERT_OK_AND_ASSIGN(
        service_, WriterService::Create(options, &backend_,
                                        TableWriterDeps{.journal = journal, .metrics = &metrics_}));
    ASSERT_OK_AND_ASSIGN(server_, GrpcServer::Start({.services = {{service_.get(), "w"}}}));
    stub_ = v1::Writer::NewStub(server_->InProcessChannel());
    stream_ = stub_->Write(&context_);
  }

  void TearDown() override {
    if (stream_ != nullptr) {
      stream_->WritesDone();
      v1::Ack ignored;
      while (stream_->Read(&ignored)) {
      }
      EXPECT_TRUE(stream_->Finish().ok());
    }
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(1));
  }

  FakeTunnelBackend backend_{OneColumnSchema()};
  prometheus::Registry registry_;
  WriterMetrics metrics_{registry_, "c", "sink"};
  std::unique_ptr<WriterService> service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<v1::Writer::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::RowBatch, v1::Ack>> stream_;
};

TEST_F(WriterServiceTest, AcknowledgesUnderTheUpstreamBatchIdAfterCommit) {
  // Given a writer service
  Start();
  // When a batch numbered 77 by its sender is written
  ASSERT_TRUE(stream_->Write(MakeBatch(77, "p1", 0, 3)));
  // Then its acknowledgement names 77, carries no failure, and the rows are committed
  v1::Ack ack;
  ASSERT_TRUE(stream_->Read(&ack));
  EXPECT_EQ(ack.batch_id(), 77u);
  EXPECT_EQ(ack.failures_size(), 0);
  EXPECT_EQ(backend_.CommittedRows("pt=p1").size(), 3u);
}

TEST_F(WriterServiceTest, PermanentTunnelFailureIsANegativeAcknowledgement) {
  // Given a table whose block uploads are refused for good (not retryable)
  backend_.FailAlways(TunnelOp::kUploadBlock, "", absl::PermissionDeniedError("no write access"));
  Start();
  // When a batch is written
  ASSERT_TRUE(stream_->Write(MakeBatch(5, "p1", 10, 2)));
  // Then it comes back failed, with a code and a message naming the partition and the cause,
  // instead of never being acknowledged
  v1::Ack ack;
  ASSERT_TRUE(stream_->Read(&ack));
  EXPECT_EQ(ack.batch_id(), 5u);
  ASSERT_EQ(ack.failures_size(), 1);
  EXPECT_EQ(ack.failures(0).code(), "WRITER_FAILED");
  EXPECT_NE(ack.failures(0).message().find("pt=p1"), std::string::npos)
      << ack.failures(0).message();
  EXPECT_NE(ack.failures(0).message().find("no write access"), std::string::npos)
      << ack.failures(0).message();
  EXPECT_TRUE(backend_.CommittedRows("pt=p1").empty());
}

// A journal that refuses every commit as fenced, as after a rebalance moved the partition.
class FencingJournal final : public CommitJournal {
 public:
  absl::Status BeforeCommit(const CommitRecord&) override {
    return FencedError("t[3] consumed under epoch 1 but the partition has since been claimed");
  }
  absl::Status AfterCommit(const CommitRecord&) override { return absl::OkStatus(); }
};

TEST_F(WriterServiceTest, FencedCommitComesBackWithTheFencedCode) {
  // Given a journal that says the batches' partition has a new owner
  FencingJournal journal;
  Start(&journal);
  // When a batch is written
  ASSERT_TRUE(stream_->Write(MakeBatch(6, "p1", 10, 2)));
  // Then it comes back with the FENCED code (read again by the new owner), not WRITER_FAILED
  // (dead-lettered), and nothing is committed
  v1::Ack ack;
  ASSERT_TRUE(stream_->Read(&ack));
  EXPECT_EQ(ack.batch_id(), 6u);
  ASSERT_EQ(ack.failures_size(), 1);
  EXPECT_EQ(ack.failures(0).code(), pipeline::kFenced);
  EXPECT_NE(ack.failures(0).message().find("claimed"), std::string::npos)
      << ack.failures(0).message();
  EXPECT_TRUE(backend_.CommittedRows("pt=p1").empty());
}

// A journal that commits everything and answers Unwritten with a preset result, counting calls.
class RedeliveryJournal final : public CommitJournal {
 public:
  absl::Status BeforeCommit(const CommitRecord&) override { return absl::OkStatus(); }
  absl::Status AfterCommit(const CommitRecord&) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<v1::OffsetRange>> Unwritten(
      const std::vector<v1::OffsetRange>& ranges) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    if (!answer_.ok()) return answer_.status();
    return answer_->has_value() ? **answer_ : ranges;
  }
  // nullopt: nothing written (the ranges themselves are unwritten).
  void Answer(absl::StatusOr<std::optional<std::vector<v1::OffsetRange>>> answer) {
    absl::MutexLock lock(&mu_);
    answer_ = std::move(answer);
  }
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  absl::Mutex mu_;
  absl::StatusOr<std::optional<std::vector<v1::OffsetRange>>> answer_ ABSL_GUARDED_BY(mu_) =
      std::optional<std::vector<v1::OffsetRange>>();
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

v1::RowBatch Redelivered(v1::RowBatch batch) {
  batch.set_redelivery(true);
  return batch;
}

TEST_F(WriterServiceTest, RedeliveredBatchTheJournalHoldsIsAcknowledgedWithoutWriting) {
  // Given a journal that says every offset of the batch is written
  RedeliveryJournal journal;
  journal.Answer(std::optional<std::vector<v1::OffsetRange>>(std::vector<v1::OffsetRange>{}));
  Start(&journal);
  // When the batch comes again, marked as a redelivery
  ASSERT_TRUE(stream_->Write(Redelivered(MakeBatch(8, "p1", 10, 3))));
  // Then it is acknowledged under its id, without a failure, and nothing is written
  v1::Ack ack;
  ASSERT_TRUE(stream_->Read(&ack));
  EXPECT_EQ(ack.batch_id(), 8u);
  EXPECT_EQ(ack.failures_size(), 0);
  ASSERT_EQ(ack.ranges_size(), 1);
  EXPECT_EQ(ack.ranges(0).first_offset(), 10);
  EXPECT_EQ(journal.calls(), 1);
  service_->Flush();
  EXPECT_OK(service_->Drain(absl::Now() + absl::Seconds(5)));
  EXPECT_TRUE(backend_.CommittedRows("pt=p1").empty());
}

TEST_F(WriterServiceTest, RedeliveredBatchWrittenInPartIsAnsweredFencedWithTheUnwrittenRanges) {
  // Given a journal that says offsets 12..14 of 10..14 are not written
  RedeliveryJournal journal;
  v1::OffsetRange rest = MakeBatch(0, "p1", 12, 3).ranges(0);
  journal.Answer(std::optional<std::vector<v1::OffsetRange>>(std::vector<v1::OffsetRange>{rest}));
  Start(&journal);
  // When the batch comes again
  ASSERT_TRUE(stream_->Write(Redelivered(MakeBatch(9, "p1", 10, 5))));
  // Then it is answered with one FENCED failure naming exactly 12..14, nothing written
  v1::Ack ack;
  ASSERT_TRUE(stream_->Read(&ack));
  EXPECT_EQ(ack.batch_id(), 9u);
  ASSERT_EQ(ack.failures_size(), 1);
  EXPECT_EQ(ack.failures(0).code(), pipeline::kFenced);
  ASSERT_EQ(ack.failures(0).ranges_size(), 1);
  EXPECT_EQ(ack.failures(0).ranges(0).first_offset(), 12);
  EXPECT_EQ(ack.failures(0).ranges(0).last_offset(), 14);
  EXPECT_TRUE(backend_.CommittedRows("pt=p1").empty());
}

TEST_F(WriterServiceTest, RedeliveredBatchNoneOfWhichIsWrittenIsWritten) {
  RedeliveryJournal journal;  // answers: nothing written
  Start(&journal);
  ASSERT_TRUE(stream_->Write(Redelivered(MakeBatch(3, "p1", 0, 2))));
  v1::Ack ack;
  ASSERT_TRUE(stream_->Read(&ack));
  EXPECT_EQ(ack.failures_size(), 0);
  EXPECT_EQ(journal.calls(), 1);
  EXPECT_EQ(backend_.CommittedRows("pt=p1").size(), 2u);
}

TEST_F(WriterServiceTest, RedeliveredBatchIsWrittenWhenTheJournalCannotBeAsked) {
  // The commit's own check still refuses a second copy, so writing is the safe fallback.
  RedeliveryJournal journal;
  journal.Answer(absl::UnavailableError("journal down"));
  Start(&journal);
  ASSERT_TRUE(stream_->Write(Redelivered(MakeBatch(3, "p1", 0, 2))));
  v1::Ack ack;
  ASSERT_TRUE(stream_->Read(&ack));
  EXPECT_EQ(ack.failures_size(), 0);
  EXPECT_EQ(backend_.CommittedRows("pt=p1").size(), 2u);
}

// Holds the first commit until Release, like a writer slow to commit.
class HoldingJournal final : public CommitJournal {
 public:
  absl::Status BeforeCommit(const CommitRecord&) override {
    if (entered_.exchange(true)) return absl::OkStatus();  // only the first commit is held
    committing_.Notify();
    released_.WaitForNotification();
    return absl::OkStatus();
  }
  absl::Status AfterCommit(const CommitRecord&) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<v1::OffsetRange>> Unwritten(
      const std::vector<v1::OffsetRange>& ranges) override {
    checks_.fetch_add(1);
    return ranges;
  }
  void WaitUntilCommitting() { committing_.WaitForNotification(); }
  void Release() { released_.Notify(); }
  int checks() const { return checks_.load(); }

 private:
  std::atomic<bool> entered_{false};
  absl::Notification committing_;
  absl::Notification released_;
  std::atomic<int> checks_{0};
};

TEST_F(WriterServiceTest, RedeliveredCopyOfABatchStillBeingWrittenGetsThatCopysAnswer) {
  // Given a batch sent on a stream that then broke, its commit still in progress
  HoldingJournal journal;
  Start(&journal);
  ASSERT_TRUE(stream_->Write(MakeBatch(1, "p1", 0, 3)));
  journal.WaitUntilCommitting();
  context_.TryCancel();
  // When the sender reconnects and sends it again, marked as a redelivery, under another id
  grpc::ClientContext context;
  auto stream = stub_->Write(&context);
  ASSERT_TRUE(stream->Write(Redelivered(MakeBatch(2, "p1", 0, 3))));
  // (a batch of another partition behind it: once it is acknowledged, the copy was taken)
  ASSERT_TRUE(stream->Write(MakeBatch(3, "p2", 10, 1)));
  v1::Ack ack;
  ASSERT_TRUE(stream->Read(&ack));
  ASSERT_EQ(ack.batch_id(), 3u);
  journal.Release();
  // Then the new stream gets the acknowledgement, under the new id, and the rows are written once
  ASSERT_TRUE(stream->Read(&ack));
  EXPECT_EQ(ack.batch_id(), 2u);
  EXPECT_EQ(ack.failures_size(), 0);
  EXPECT_EQ(backend_.CommittedRows("pt=p1").size(), 3u);
  EXPECT_EQ(journal.checks(), 0);
  stream->WritesDone();
  (void)stream->Finish();
  stream_.reset();  // cancelled above
}

TEST_F(WriterServiceTest, BatchNotMarkedAsRedeliveryIsNotCheckedAgainstTheJournal) {
  RedeliveryJournal journal;
  journal.Answer(std::optional<std::vector<v1::OffsetRange>>(std::vector<v1::OffsetRange>{}));
  Start(&journal);
  ASSERT_TRUE(stream_->Write(MakeBatch(4, "p1", 0, 2)));
  v1::Ack ack;
  ASSERT_TRUE(stream_->Read(&ack));
  EXPECT_EQ(journal.calls(), 0);
  EXPECT_EQ(backend_.CommittedRows("pt=p1").size(), 2u);
}

TEST_F(WriterServiceTest, ObservesProduceToCommitLatencyFromTheOldestRecord) {
  // Given a batch whose oldest record was produced 5 seconds ago
  Start();
  const absl::Time before = absl::Now();
  v1::RowBatch batch = MakeBatch(1, "p1", 0, 2);
  batch.set_min_timestamp_ms(absl::ToUnixMillis(before - absl::Seconds(5)));
  // When it is committed and acknowledged
  ASSERT_TRUE(stream_->Write(batch));
  v1::Ack ack;
  ASSERT_TRUE(stream_->Read(&ack));
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - before);
  // Then the histogram holds one sample of at least 5 s and at most 5 s plus the time it took
  const auto families = registry_.Collect();
  const prometheus::ClientMetric* m =
      FindMetric(families, "mcsink_writer_produce_to_commit_seconds");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->histogram.sample_count, 1u);
  EXPECT_GE(m->histogram.sample_sum, 5.0 - 0.001);
  EXPECT_LE(m->histogram.sample_sum, 5.0 + elapsed + 0.001);
}

TEST_F(WriterServiceTest, BatchWithoutTimestampsIsNotObserved) {
  // Given a batch whose records carry no timestamp
  Start();
  ASSERT_TRUE(stream_->Write(MakeBatch(1, "p1", 0, 1)));
  v1::Ack ack;
  ASSERT_TRUE(stream_->Read(&ack));
  // Then no latency is made up for it
  const auto families = registry_.Collect();
  const prometheus::ClientMetric* m =
      FindMetric(families, "mcsink_writer_produce_to_commit_seconds");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->histogram.sample_count, 0u);
}

}  // namespace
}  // namespace mcsink::writer
