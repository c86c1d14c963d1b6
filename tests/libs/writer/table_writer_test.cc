// TableWriter against an in-memory Tunnel backend that decodes every block with the real decoder
// and can fail or hold calls; time is a SimulatedClock driven by the tests.
#include "mcsink/writer/table_writer.h"

#include <algorithm>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "fake_tunnel_backend.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mcsink/maxcompute/record_decoder.h"
#include "mcsink/maxcompute/record_encoder.h"
#include "mcsink/testing/collected.h"
#include "mcsink/testing/seed_table.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsink/writer/token_bucket.h"
#include "prometheus/registry.h"

namespace mcsink::writer {
namespace {

using ::mcsink::v1::Ack;
using ::mcsink::v1::OffsetRange;
using ::mcsink::v1::RowBatch;
using ::mcsink::v1::RowGroup;
using ::mcsink::writer::testing::FakeTunnelBackend;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// `count` seed rows with offsets first.., encoded as transform sends them.
RowGroup MakeGroup(const std::string& pt, int64_t first, int64_t count) {
  RowGroup group;
  group.set_pt(pt);
  group.set_row_count(static_cast<uint64_t>(count));
  maxcompute::RecordEncoder encoder(group.mutable_encoded_rows());
  for (int64_t offset = first; offset < first + count; ++offset) {
    encoder.WriteBytes(0, "orders");
    encoder.WriteInteger(1, 0);
    encoder.WriteInteger(2, offset);
    encoder.WriteBytes(3, "key-" + std::to_string(offset));
    encoder.WriteBytes(4, std::string(100, static_cast<char>('a' + offset % 26)));
    group.add_row_crcs(encoder.EndRecord());
  }
  return group;
}

struct GroupSpec {
  std::string pt;
  int64_t rows;
};

// A batch covering offsets [first, first + total rows) of orders/0, split into groups in order.
RowBatch MakeBatch(uint64_t id, int64_t first, const std::vector<GroupSpec>& groups) {
  RowBatch batch;
  batch.set_connector("c");
  batch.set_batch_id(id);
  int64_t offset = first;
  for (const GroupSpec& g : groups) {
    *batch.add_groups() = MakeGroup(g.pt, offset, g.rows);
    offset += g.rows;
  }
  OffsetRange* range = batch.add_ranges();
  range->set_topic("orders");
  range->set_partition(0);
  range->set_first_offset(first);
  range->set_last_offset(offset - 1);
  return batch;
}

std::vector<int64_t> Offsets(const std::vector<maxcompute::Row>& rows) {
  std::vector<int64_t> offsets;
  for (const maxcompute::Row& row : rows) offsets.push_back(std::get<int64_t>(row.at(2)));
  return offsets;
}

std::vector<int64_t> Iota(int64_t first, int64_t count) {
  std::vector<int64_t> v;
  for (int64_t i = first; i < first + count; ++i) v.push_back(i);
  return v;
}

// Collects what the writer delivers.
class Recorder {
 public:
  TableWriterCallbacks Callbacks() {
    return {.on_ack =
                [this](Ack ack) {
                  if (on_ack_hook) on_ack_hook(ack);
                  acks_.Add(ack);
                },
            .on_failure = [this](const WriteFailure& f) { failures_.Add(f); }};
  }
  bool WaitForAcks(size_t n, absl::Duration timeout = absl::Seconds(10)) {
    return acks_.Wait(n, timeout);
  }
  bool WaitForFailures(size_t n, absl::Duration timeout = absl::Seconds(10)) {
    return failures_.Wait(n, timeout);
  }
  std::vector<uint64_t> AckedIds() {
    std::vector<uint64_t> ids;
    for (const Ack& a : acks_.all()) ids.push_back(a.batch_id());
    return ids;
  }
  std::vector<Ack> acks() { return acks_.all(); }
  std::vector<WriteFailure> failures() { return failures_.all(); }

  std::function<void(const Ack&)> on_ack_hook;

 private:
  mcsink::testing::Collected<Ack> acks_;
  mcsink::testing::Collected<WriteFailure> failures_;
};

TableWriterOptions BaseOptions() {
  TableWriterOptions o;
  o.table = "orders_sink";
  o.block_bytes = 1 << 20;
  o.commit_bytes = 1 << 30;
  o.commit_interval = absl::Hours(1);
  return o;
}

double MetricSum(prometheus::Registry& registry, const std::string& name) {
  double sum = 0;
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& m : family.metric) sum += m.counter.value;
  }
  return sum;
}

class TableWriterTest : public ::testing::Test {
 protected:
  std::unique_ptr<TableWriter> MakeWriter(const TableWriterOptions& options,
                                          CommitJournal* journal = nullptr,
                                          WriterMetrics* metrics = nullptr) {
    EXPECT_OK(options.Validate());
    return std::make_unique<TableWriter>(options, &backend_, recorder_.Callbacks(),
                                         TableWriterDeps{&clock_, journal, metrics, 42});
  }

  void Add(TableWriter& writer, RowBatch batch) {
    const absl::Status status = writer.Add(std::move(batch));
    ASSERT_OK(status);
  }

  // Moves simulated time forward in `step`s until `done` (which may wait briefly in real time
  // for the workers to react) holds.
  template <typename Done>
  bool AdvanceUntil(Done done, absl::Duration step = absl::Milliseconds(500)) {
    for (int i = 0; i < 400; ++i) {
      if (done()) return true;
      clock_.Advance(step);
    }
    return done();
  }

  SimulatedClock clock_;
  FakeTunnelBackend backend_{mcsink::testing::SeedTableSchema(), &clock_};
  Recorder recorder_;
};

TEST(TokenBucket, AllowsBurstThenOneTokenPerPeriodOverCapacity) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  TokenBucket bucket(2, absl::Seconds(10), t0);
  EXPECT_TRUE(bucket.TryTake(t0));
  EXPECT_TRUE(bucket.TryTake(t0));
  EXPECT_FALSE(bucket.TryTake(t0));
  EXPECT_EQ(bucket.NextAvailable(t0), t0 + absl::Seconds(5));
  EXPECT_FALSE(bucket.TryTake(t0 + absl::Seconds(4)));
  EXPECT_TRUE(bucket.TryTake(t0 + absl::Seconds(5)));
  EXPECT_FALSE(bucket.TryTake(t0 + absl::Seconds(5)));
  // Idle time refills up to the capacity, not beyond.
  EXPECT_TRUE(bucket.TryTake(t0 + absl::Hours(1)));
  EXPECT_TRUE(bucket.TryTake(t0 + absl::Hours(1)));
  EXPECT_FALSE(bucket.TryTake(t0 + absl::Hours(1)));
}

TEST(TableWriterOptions, ValidateNamesEveryBadField) {
  TableWriterOptions o = BaseOptions();
  o.block_bytes = 0;
  o.max_blocks_per_session = 30000;
  const absl::Status status = o.Validate();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("block_bytes is 0"));
  EXPECT_THAT(status.message(), HasSubstr("max_blocks_per_session is 30000"));
  EXPECT_OK(BaseOptions().Validate());
}

TEST(TableWriter, CreateRejectsInvalidOptions) {
  testing::FakeTunnelBackend backend(mcsink::testing::SeedTableSchema());
  TableWriterOptions o = BaseOptions();
  o.table = "";
  EXPECT_EQ(TableWriter::Create(o, &backend, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_OK(TableWriter::Create(BaseOptions(), &backend, {}));
}

TEST(IsRetryable, TransientCodesOnly) {
  EXPECT_TRUE(IsRetryable(absl::UnavailableError("503")));
  EXPECT_TRUE(IsRetryable(absl::DeadlineExceededError("timeout")));
  EXPECT_TRUE(IsRetryable(absl::ResourceExhaustedError("throttled")));
  EXPECT_FALSE(IsRetryable(absl::PermissionDeniedError("denied")));
  EXPECT_FALSE(IsRetryable(absl::InvalidArgumentError("bad block")));
  EXPECT_FALSE(IsRetryable(absl::NotFoundError("no table")));
}

TEST_F(TableWriterTest, RowsOfSeveralPartitionsGoToSeparateSessions) {
  // Given a writer and batches whose rows fall into three partition values
  auto writer = MakeWriter(BaseOptions());
  Add(*writer, MakeBatch(1, 0, {{"h1", 3}, {"h2", 4}}));
  Add(*writer, MakeBatch(2, 7, {{"h3", 2}, {"h1", 5}}));
  // When everything is flushed
  writer->Flush();
  ASSERT_TRUE(recorder_.WaitForAcks(2));
  // Then each partition was added once and committed in its own session, holding its own rows
  EXPECT_EQ(backend_.PartitionsCreated(), 3);
  std::vector<std::string> partitions;
  std::vector<std::string> upload_ids;
  for (const auto& c : backend_.Commits()) {
    partitions.push_back(c.partition);
    upload_ids.push_back(c.upload_id);
  }
  EXPECT_THAT(partitions, UnorderedElementsAre("pt=h1", "pt=h2", "pt=h3"));
  std::sort(upload_ids.begin(), upload_ids.end());
  EXPECT_EQ(std::unique(upload_ids.begin(), upload_ids.end()), upload_ids.end());
  EXPECT_EQ(Offsets(backend_.CommittedRows("pt=h1")),
            (std::vector<int64_t>{0, 1, 2, 9, 10, 11, 12, 13}));
  EXPECT_EQ(Offsets(backend_.CommittedRows("pt=h2")), Iota(3, 4));
  EXPECT_EQ(Offsets(backend_.CommittedRows("pt=h3")), Iota(7, 2));
  EXPECT_EQ(writer->buffered_bytes(), 0);
}

TEST_F(TableWriterTest, BlocksAreCompleteRecordStreamsWithCorrectTrailers) {
  // Given blocks of about 1000 bytes, smaller than the 30 rows added
  TableWriterOptions options = BaseOptions();
  options.block_bytes = 1000;
  auto writer = MakeWriter(options);
  for (int i = 0; i < 3; ++i) Add(*writer, MakeBatch(i + 1, i * 10, {{"h", 10}}));
  writer->Flush();
  ASSERT_TRUE(recorder_.WaitForAcks(3));
  // Then every uploaded body decodes on its own (record CRCs, count and stream CRC verified)
  const auto bodies = backend_.UploadedBodies();
  EXPECT_GE(bodies.size(), 3u);
  const maxcompute::TableSchema schema = mcsink::testing::SeedTableSchema();
  size_t rows = 0;
  for (const auto& body : bodies) {
    absl::StatusOr<std::vector<maxcompute::Row>> decoded =
        maxcompute::DecodeRecordStream(schema, *body);
    ASSERT_OK(decoded);
    EXPECT_FALSE(decoded->empty());
    rows += decoded->size();
  }
  EXPECT_EQ(rows, 30u);
  // And the committed partition holds the rows once, in block order
  EXPECT_EQ(Offsets(backend_.CommittedRows("pt=h")), Iota(0, 30));
}

TEST_F(TableWriterTest, CommitsWhenSessionReachesCommitBytes) {
  // Given a commit size of 2000 bytes and an interval that never passes
  TableWriterOptions options = BaseOptions();
  options.block_bytes = 500;
  options.commit_bytes = 2000;
  auto writer = MakeWriter(options);
  // When one partition gets more than that and another less
  Add(*writer, MakeBatch(1, 0, {{"small", 2}}));
  Add(*writer, MakeBatch(2, 2, {{"big", 20}}));
  // Then the big one commits and is acknowledged without a flush or the clock moving
  ASSERT_TRUE(recorder_.WaitForAcks(1));
  EXPECT_THAT(recorder_.AckedIds(), ElementsAre(2u));
  EXPECT_EQ(Offsets(backend_.CommittedRows("pt=big")), Iota(2, 20));
  EXPECT_TRUE(backend_.CommittedRows("pt=small").empty());
}

TEST_F(TableWriterTest, CommitsWhenCommitIntervalElapses) {
  // Given a 30 s commit interval
  TableWriterOptions options = BaseOptions();
  options.commit_interval = absl::Seconds(30);
  auto writer = MakeWriter(options);
  const absl::Time t0 = clock_.Now();
  Add(*writer, MakeBatch(1, 0, {{"h", 5}}));
  ASSERT_TRUE(backend_.WaitUntil(
      [](FakeTunnelBackend& b) { return b.calls_locked(TunnelOp::kEnsurePartition) >= 1; }));
  EXPECT_TRUE(recorder_.AckedIds().empty());
  // When the simulated clock passes it
  clock_.Advance(absl::Seconds(29));
  clock_.Advance(absl::Seconds(1));
  // Then the session commits, not earlier than the interval
  ASSERT_TRUE(recorder_.WaitForAcks(1));
  ASSERT_EQ(backend_.Commits().size(), 1u);
  EXPECT_GE(backend_.Commits()[0].time - t0, absl::Seconds(30));
  EXPECT_EQ(Offsets(backend_.CommittedRows("pt=h")), Iota(0, 5));
}

TEST_F(TableWriterTest, AcknowledgesOnlyAfterTheCommit) {
  // Given small blocks, so rows are uploaded long before the session commits
  TableWriterOptions options = BaseOptions();
  options.block_bytes = 500;
  auto writer = MakeWriter(options);
  std::vector<size_t> commits_seen_at_ack;
  recorder_.on_ack_hook = [&](const Ack&) {
    commits_seen_at_ack.push_back(backend_.Commits().size());
  };
  Add(*writer, MakeBatch(1, 0, {{"h", 10}}));
  ASSERT_TRUE(backend_.WaitUntil([](FakeTunnelBackend& b) { return b.uploads_locked() >= 1; }));
  // Uploaded but not committed: no acknowledgement
  EXPECT_TRUE(recorder_.AckedIds().empty());
  EXPECT_TRUE(backend_.Commits().empty());
  // When the session commits
  writer->Flush();
  ASSERT_TRUE(recorder_.WaitForAcks(1));
  // Then the acknowledgement came after the commit and carries the batch's ranges
  EXPECT_THAT(commits_seen_at_ack, ElementsAre(1u));
  const Ack ack = recorder_.acks().at(0);
  EXPECT_EQ(ack.batch_id(), 1u);
  ASSERT_EQ(ack.ranges_size(), 1);
  EXPECT_EQ(ack.ranges(0).first_offset(), 0);
  EXPECT_EQ(ack.ranges(0).last_offset(), 9);
}

TEST_F(TableWriterTest, BatchSpanningTwoPartitionsIsAckedOnlyAfterBothCommit) {
  auto writer = MakeWriter(BaseOptions());
  // Given the commit of partition b held back
  backend_.Hold(TunnelOp::kCommit, "pt=b");
  Add(*writer, MakeBatch(1, 0, {{"a", 3}, {"b", 3}}));
  writer->Flush();
  // When partition a has committed
  ASSERT_TRUE(backend_.WaitUntil([](FakeTunnelBackend& b) { return b.commits_locked() >= 1; }));
  // Then the batch is not acknowledged yet
  EXPECT_TRUE(recorder_.AckedIds().empty());
  // And once b commits too, it is
  backend_.Release();
  ASSERT_TRUE(recorder_.WaitForAcks(1));
  EXPECT_THAT(recorder_.AckedIds(), ElementsAre(1u));
  EXPECT_EQ(backend_.Commits().size(), 2u);
}

TEST_F(TableWriterTest, RetriesTransientFailuresWithBackoff) {
  // Given the first call of every kind fails with a transient error
  prometheus::Registry registry;
  WriterMetrics metrics(registry, "c", "orders_sink");
  backend_.FailNth(TunnelOp::kEnsurePartition, 1, absl::UnavailableError("503"));
  backend_.FailNth(TunnelOp::kCreateSession, 1, absl::ResourceExhaustedError("throttled"));
  backend_.FailNth(TunnelOp::kUploadBlock, 1, absl::UnavailableError("connection reset"));
  backend_.FailNth(TunnelOp::kCommit, 1, absl::DeadlineExceededError("timeout"));
  auto writer = MakeWriter(BaseOptions(), nullptr, &metrics);
  Add(*writer, MakeBatch(1, 0, {{"h", 4}}));
  writer->Flush();
  // When time passes for the backoffs
  ASSERT_TRUE(AdvanceUntil([&] { return recorder_.WaitForAcks(1, absl::Milliseconds(20)); }));
  // Then the batch is written once and acknowledged, after four retries
  EXPECT_EQ(Offsets(backend_.CommittedRows("pt=h")), Iota(0, 4));
  EXPECT_TRUE(recorder_.failures().empty());
  EXPECT_EQ(backend_.Calls(TunnelOp::kCommit), 2);
  EXPECT_EQ(MetricSum(registry, "mcsink_writer_retries_total"), 4);
  EXPECT_EQ(MetricSum(registry, "mcsink_writer_commits_total"), 1);
  EXPECT_EQ(MetricSum(registry, "mcsink_writer_partitions_created_total"), 1);
  EXPECT_EQ(MetricSum(registry, "mcsink_writer_committed_rows_total"), 4);
  // And every kind of Tunnel call has its latency histogram
  size_t histograms = 0;
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name == "mcsink_writer_tunnel_request_seconds") histograms = family.metric.size();
  }
  EXPECT_EQ(histograms, 4u);
}

TEST_F(TableWriterTest, PermanentFailureReportsTheBatchesAndNeverAcksThem) {
  // Given uploads to partition a are refused for good
  backend_.FailAlways(TunnelOp::kUploadBlock, "pt=a",
                      absl::PermissionDeniedError("no Update permission"));
  auto writer = MakeWriter(BaseOptions());
  Add(*writer, MakeBatch(1, 0, {{"a", 2}, {"b", 2}}));
  Add(*writer, MakeBatch(2, 4, {{"b", 2}}));
  // When everything is flushed
  writer->Flush();
  ASSERT_TRUE(recorder_.WaitForFailures(1));
  ASSERT_TRUE(recorder_.WaitForAcks(1));
  // Then batch 1 is reported as failed, with its ranges and the reason, and only batch 2 is acked
  const WriteFailure failure = recorder_.failures().at(0);
  EXPECT_EQ(failure.status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(failure.status.message()), HasSubstr("uploading block 0"));
  EXPECT_THAT(std::string(failure.status.message()), HasSubstr("pt=a"));
  EXPECT_THAT(std::string(failure.status.message()), HasSubstr("not retryable"));
  EXPECT_THAT(failure.batch_ids, ElementsAre(1u));
  ASSERT_EQ(failure.ranges.size(), 1u);
  EXPECT_EQ(failure.ranges[0].last_offset(), 3);
  EXPECT_THAT(recorder_.AckedIds(), ElementsAre(2u));
  EXPECT_EQ(backend_.Calls(TunnelOp::kUploadBlock), 2);  // one to a (not retried), one to b
  EXPECT_EQ(writer->buffered_bytes(), 0);
}

TEST_F(TableWriterTest, CommitWhoseAnswerWasLostIsRetriedAndWritesOnce) {
  // Given the first commit succeeds on the server but its answer is lost
  backend_.LoseNthCommitAnswer(1, absl::DeadlineExceededError("read timeout"));
  auto writer = MakeWriter(BaseOptions());
  Add(*writer, MakeBatch(1, 0, {{"h", 3}}));
  writer->Flush();
  // When the writer retries the commit
  ASSERT_TRUE(AdvanceUntil([&] { return recorder_.WaitForAcks(1, absl::Milliseconds(20)); }));
  // Then the second commit is accepted as already done and the rows are there once
  EXPECT_EQ(backend_.Calls(TunnelOp::kCommit), 2);
  EXPECT_EQ(Offsets(backend_.CommittedRows("pt=h")), Iota(0, 3));
  EXPECT_TRUE(recorder_.failures().empty());
}

TEST_F(TableWriterTest, ExhaustedRetriesFailTheSession) {
  // Given commits that keep timing out and three attempts allowed
  backend_.FailAlways(TunnelOp::kCommit, "", absl::UnavailableError("503"));
  TableWriterOptions options = BaseOptions();
  options.max_attempts = 3;
  auto writer = MakeWriter(options);
  Add(*writer, MakeBatch(7, 0, {{"h", 1}}));
  writer->Flush();
  // When time passes
  ASSERT_TRUE(AdvanceUntil([&] { return recorder_.WaitForFailures(1, absl::Milliseconds(20)); }));
  // Then after three commits the batch is reported, not acknowledged
  EXPECT_EQ(backend_.Calls(TunnelOp::kCommit), 3);
  const WriteFailure failure = recorder_.failures().at(0);
  EXPECT_EQ(failure.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(failure.status.message()), HasSubstr("failed after 3 attempts"));
  EXPECT_THAT(failure.batch_ids, ElementsAre(7u));
  EXPECT_TRUE(recorder_.AckedIds().empty());
}

TEST_F(TableWriterTest, CommitRateLimitSpacesCommits) {
  // Given at most 2 commits per 10 s (one token every 5 s) and four sessions ready at once
  TableWriterOptions options = BaseOptions();
  options.commits_per_period = 2;
  options.commit_period = absl::Seconds(10);
  auto writer = MakeWriter(options);
  const absl::Time t0 = clock_.Now();
  Add(*writer, MakeBatch(1, 0, {{"p1", 1}, {"p2", 1}, {"p3", 1}, {"p4", 1}}));
  writer->Flush();
  // When time passes
  ASSERT_TRUE(AdvanceUntil(
      [&] {
        return backend_.WaitUntil([](FakeTunnelBackend& b) { return b.commits_locked() >= 4; },
                                  absl::Milliseconds(20));
      },
      absl::Seconds(1)));
  // Then two commit at once and the others one token period apart
  const auto commits = backend_.Commits();
  ASSERT_EQ(commits.size(), 4u);
  EXPECT_LT(commits[1].time - t0, absl::Seconds(5));
  EXPECT_GE(commits[2].time - t0, absl::Seconds(5));
  EXPECT_GE(commits[3].time - t0, absl::Seconds(10));
  ASSERT_TRUE(recorder_.WaitForAcks(1));
}

TEST_F(TableWriterTest, SessionCreationRateLimitSpacesSessions) {
  // Given one session creation per 10 s and three partitions to write
  TableWriterOptions options = BaseOptions();
  options.sessions_per_period = 1;
  options.session_period = absl::Seconds(10);
  auto writer = MakeWriter(options);
  Add(*writer, MakeBatch(1, 0, {{"p1", 1}, {"p2", 1}, {"p3", 1}}));
  writer->Flush();
  ASSERT_TRUE(AdvanceUntil([&] { return recorder_.WaitForAcks(1, absl::Milliseconds(20)); },
                           absl::Seconds(1)));
  // Then the sessions were created at least 10 s apart
  const std::vector<absl::Time> created = backend_.SessionCreationTimes();
  ASSERT_EQ(created.size(), 3u);
  EXPECT_GE(created[1] - created[0], absl::Seconds(10));
  EXPECT_GE(created[2] - created[1], absl::Seconds(10));
}

TEST_F(TableWriterTest, SessionIsSealedAtTheBlockCap) {
  // Given two blocks per session and a block per row group
  TableWriterOptions options = BaseOptions();
  options.block_bytes = 1;
  options.max_blocks_per_session = 2;
  auto writer = MakeWriter(options);
  for (int i = 0; i < 5; ++i) Add(*writer, MakeBatch(i + 1, i, {{"h", 1}}));
  writer->Flush();
  ASSERT_TRUE(recorder_.WaitForAcks(5));
  // Then three sessions hold the five blocks, none more than two
  const auto commits = backend_.Commits();
  ASSERT_EQ(commits.size(), 3u);
  size_t blocks = 0;
  for (const auto& c : commits) {
    EXPECT_LE(c.block_ids.size(), 2u);
    for (int64_t id : c.block_ids) EXPECT_LT(id, 2);
    blocks += c.block_ids.size();
  }
  EXPECT_EQ(blocks, 5u);
  std::vector<int64_t> offsets = Offsets(backend_.CommittedRows("pt=h"));
  std::sort(offsets.begin(), offsets.end());
  EXPECT_EQ(offsets, Iota(0, 5));
}

TEST_F(TableWriterTest, AddWaitsWhileBufferedBytesAreOverTheBound) {
  // Given a bound of 3000 bytes and commits held back, so nothing is released
  TableWriterOptions options = BaseOptions();
  options.max_buffered_bytes = 3000;
  auto writer = MakeWriter(options);
  backend_.Hold(TunnelOp::kCommit, "");
  Add(*writer, MakeBatch(1, 0, {{"h", 20}}));  // about 2700 bytes
  const int64_t held = writer->buffered_bytes();
  EXPECT_GT(held, 2000);
  // When another batch arrives, it is not taken before the deadline
  const absl::Status full = writer->Add(MakeBatch(2, 20, {{"h", 20}}), absl::Now());
  EXPECT_EQ(full.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(full.message()), HasSubstr("max_buffered_bytes 3000"));
  EXPECT_EQ(writer->buffered_bytes(), held);
  // And a waiting Add goes through once the commit releases the bytes
  std::future<absl::Status> waiting = std::async(std::launch::async, [&] {
    return writer->Add(MakeBatch(3, 40, {{"h", 20}}), absl::Now() + absl::Seconds(10));
  });
  backend_.Release();
  const absl::Status added = waiting.get();
  ASSERT_OK(added);
  writer->Flush();
  ASSERT_TRUE(recorder_.WaitForAcks(2));
  EXPECT_THAT(recorder_.AckedIds(), UnorderedElementsAre(1u, 3u));
}

TEST_F(TableWriterTest, OpenSessionsCommitEarlyWhenAddWaitsForRoom) {
  // Given a bound smaller than two batches and an interval that never passes
  TableWriterOptions options = BaseOptions();
  options.max_buffered_bytes = 3000;
  auto writer = MakeWriter(options);
  Add(*writer, MakeBatch(1, 0, {{"h", 20}}));
  // When a second batch waits for room
  const absl::Status status =
      writer->Add(MakeBatch(2, 20, {{"h", 20}}), absl::Now() + absl::Seconds(10));
  // Then the first session was committed to make room
  ASSERT_OK(status);
  ASSERT_TRUE(recorder_.WaitForAcks(1));
  EXPECT_THAT(recorder_.AckedIds(), ElementsAre(1u));
}

RowBatch WithFlushHint(RowBatch batch) {
  batch.set_flush_hint(true);
  return batch;
}

TEST_F(TableWriterTest, FlushHintCommitsWhatIsHeldWithoutWaitingForTheInterval) {
  // Given an interval and a commit size that are never reached, and a batch without the hint
  auto writer = MakeWriter(BaseOptions());
  Add(*writer, MakeBatch(1, 0, {{"h", 5}}));
  Add(*writer, MakeBatch(2, 5, {{"other", 3}}));
  // When a batch arrives saying upstream is held back by its bound
  Add(*writer, WithFlushHint(MakeBatch(3, 8, {{"h", 5}})));
  // Then every open session (also of the partition the hinted batch has no rows in) commits and
  // all three batches are acknowledged, without the simulated clock moving
  ASSERT_TRUE(recorder_.WaitForAcks(3));
  EXPECT_THAT(recorder_.AckedIds(), UnorderedElementsAre(1u, 2u, 3u));
  EXPECT_EQ(Offsets(backend_.CommittedRows("pt=h")),
            (std::vector<int64_t>{0, 1, 2, 3, 4, 8, 9, 10, 11, 12}));
  EXPECT_EQ(Offsets(backend_.CommittedRows("pt=other")), Iota(5, 3));
}

TEST_F(TableWriterTest, WithoutFlushHintNothingCommitsBeforeTheInterval) {
  // Given a 30 s interval
  TableWriterOptions options = BaseOptions();
  options.commit_interval = absl::Seconds(30);
  auto writer = MakeWriter(options);
  // When batches without the hint arrive (light traffic) and 29 s pass
  Add(*writer, MakeBatch(1, 0, {{"h", 5}}));
  Add(*writer, MakeBatch(2, 5, {{"h", 5}}));
  ASSERT_TRUE(backend_.WaitUntil(
      [](FakeTunnelBackend& b) { return b.calls_locked(TunnelOp::kEnsurePartition) >= 1; }));
  clock_.Advance(absl::Seconds(29));
  // Then nothing is committed yet: one large commit on the interval, not one per batch
  EXPECT_FALSE(recorder_.WaitForAcks(1, absl::Milliseconds(200)));
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(recorder_.WaitForAcks(2));
  EXPECT_EQ(backend_.Commits().size(), 1u);
}

TEST_F(TableWriterTest, FlushHintWaitsForThePartitionsPreviousCommit) {
  // Given commits that are held, and a hinted batch whose session is committing
  backend_.Hold(TunnelOp::kCommit, "");
  auto writer = MakeWriter(BaseOptions());
  Add(*writer, WithFlushHint(MakeBatch(1, 0, {{"h", 5}})));
  ASSERT_TRUE(backend_.WaitUntil(
      [](FakeTunnelBackend& b) { return b.calls_locked(TunnelOp::kCommit) >= 1; }));
  // When more hinted batches arrive while that commit is in flight
  Add(*writer, WithFlushHint(MakeBatch(2, 5, {{"h", 5}})));
  Add(*writer, WithFlushHint(MakeBatch(3, 10, {{"h", 5}})));
  // Then they are not sealed into sessions of their own: they wait, together, in the next one
  EXPECT_FALSE(backend_.WaitUntil(
      [](FakeTunnelBackend& b) { return b.calls_locked(TunnelOp::kCommit) >= 2; },
      absl::Milliseconds(200)));
  // And once the first commit is done, the next session commits at once, with both batches
  backend_.Release();
  ASSERT_TRUE(recorder_.WaitForAcks(3));
  const auto commits = backend_.Commits();
  ASSERT_EQ(commits.size(), 2u);
  EXPECT_EQ(Offsets(backend_.CommittedRows("pt=h")), Iota(0, 15));
}

TEST_F(TableWriterTest, SlowPartitionDoesNotStallOthers) {
  // Given two workers, one call per partition, and uploads to partition slow held back
  TableWriterOptions options = BaseOptions();
  options.worker_threads = 2;
  options.max_in_flight_per_partition = 1;
  backend_.Hold(TunnelOp::kUploadBlock, "pt=slow");
  auto writer = MakeWriter(options);
  Add(*writer, MakeBatch(1, 0, {{"slow", 2}}));
  Add(*writer, MakeBatch(2, 2, {{"fast", 2}}));
  writer->Flush();
  // Then the other partition commits and is acknowledged meanwhile
  ASSERT_TRUE(recorder_.WaitForAcks(1));
  EXPECT_THAT(recorder_.AckedIds(), ElementsAre(2u));
  backend_.Release();
  ASSERT_TRUE(recorder_.WaitForAcks(2));
}

TEST_F(TableWriterTest, DrainCommitsEverythingAndAcknowledges) {
  // Given batches buffered over several partitions
  auto writer = MakeWriter(BaseOptions());
  for (int i = 0; i < 6; ++i) {
    Add(*writer, MakeBatch(i + 1, i * 4, {{"h" + std::to_string(i % 3), 2}, {"x", 2}}));
  }
  // When the writer drains
  ASSERT_OK(writer->Drain(absl::Now() + absl::Seconds(10)));
  // Then every batch was acknowledged by the time Drain returned, and every row committed
  EXPECT_EQ(recorder_.AckedIds().size(), 6u);
  size_t rows = 0;
  for (const std::string pt : {"pt=h0", "pt=h1", "pt=h2", "pt=x"}) {
    rows += backend_.CommittedRows(pt).size();
  }
  EXPECT_EQ(rows, 24u);
  EXPECT_EQ(writer->buffered_bytes(), 0);
  // And it takes no more batches
  EXPECT_EQ(writer->Add(MakeBatch(9, 100, {{"h", 1}})).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(TableWriterTest, DrainTimesOutWhenCommitsCannotFinish) {
  auto writer = MakeWriter(BaseOptions());
  backend_.Hold(TunnelOp::kCommit, "");
  Add(*writer, MakeBatch(1, 0, {{"h", 1}}));
  const absl::Status status = writer->Drain(absl::Now() + absl::Milliseconds(50));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(status.message()), HasSubstr("1 upload sessions"));
  backend_.Release();
}

TEST_F(TableWriterTest, BatchWithoutRowsIsAcknowledgedAtOnce) {
  auto writer = MakeWriter(BaseOptions());
  RowBatch batch = MakeBatch(5, 0, {});
  Add(*writer, std::move(batch));
  EXPECT_THAT(recorder_.AckedIds(), ElementsAre(5u));
}

TEST_F(TableWriterTest, MalformedBatchesAreRejected) {
  auto writer = MakeWriter(BaseOptions());
  RowBatch missing_crc = MakeBatch(1, 0, {{"h", 2}});
  missing_crc.mutable_groups(0)->mutable_row_crcs()->RemoveLast();
  EXPECT_EQ(writer->Add(missing_crc).code(), absl::StatusCode::kInvalidArgument);
  RowBatch no_pt = MakeBatch(2, 0, {{"", 2}});
  EXPECT_EQ(writer->Add(no_pt).code(), absl::StatusCode::kInvalidArgument);
  RowBatch bad_pt = MakeBatch(3, 0, {{"a,b=c", 2}});
  EXPECT_EQ(writer->Add(bad_pt).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(writer->buffered_bytes(), 0);
}

TEST_F(TableWriterTest, UnpartitionedTableWritesWithoutPartitionSpec) {
  TableWriterOptions options = BaseOptions();
  options.partition_column = "";
  auto writer = MakeWriter(options);
  Add(*writer, MakeBatch(1, 0, {{"", 3}}));
  ASSERT_OK(writer->Drain(absl::Now() + absl::Seconds(10)));
  EXPECT_EQ(Offsets(backend_.CommittedRows("")), Iota(0, 3));
}

// Records the journal calls and what the backend had committed at each.
class RecordingJournal : public CommitJournal {
 public:
  explicit RecordingJournal(FakeTunnelBackend* backend) : backend_(backend) {}
  absl::Status BeforeCommit(const CommitRecord& record) override {
    absl::MutexLock lock(&mu_);
    events.push_back({"before", record, backend_->Commits().size()});
    return absl::OkStatus();
  }
  absl::Status AfterCommit(const CommitRecord& record) override {
    absl::MutexLock lock(&mu_);
    events.push_back({"after", record, backend_->Commits().size()});
    return absl::OkStatus();
  }
  struct Event {
    std::string what;
    CommitRecord record;
    size_t commits_then;
  };
  std::vector<Event> events;

 private:
  FakeTunnelBackend* backend_;
  absl::Mutex mu_;
};

TEST_F(TableWriterTest, JournalRecordsRangesBeforeAndAfterTheCommit) {
  RecordingJournal journal(&backend_);
  auto writer = MakeWriter(BaseOptions(), &journal);
  Add(*writer, MakeBatch(1, 100, {{"h", 3}}));
  ASSERT_OK(writer->Drain(absl::Now() + absl::Seconds(10)));
  ASSERT_EQ(journal.events.size(), 2u);
  EXPECT_EQ(journal.events[0].what, "before");
  EXPECT_EQ(journal.events[0].commits_then, 0u);
  EXPECT_EQ(journal.events[1].what, "after");
  EXPECT_EQ(journal.events[1].commits_then, 1u);
  const CommitRecord& record = journal.events[0].record;
  EXPECT_EQ(record.session.partition, "pt=h");
  EXPECT_EQ(record.session.upload_id, backend_.Commits().at(0).upload_id);
  ASSERT_EQ(record.batches.size(), 1u);
  EXPECT_EQ(record.batches[0].batch_id, 1u);
  EXPECT_EQ(record.batches[0].groups, 1);
  EXPECT_EQ(record.batches[0].total_groups, 1);
  ASSERT_EQ(record.batches[0].ranges.size(), 1u);
  EXPECT_EQ(record.batches[0].ranges[0].first_offset(), 100);
  EXPECT_EQ(record.batches[0].ranges[0].last_offset(), 102);
}

TEST_F(TableWriterTest, JournalCountsTheSessionsOfABatchSpanningPartitions) {
  // Given a batch with rows for two pt values
  RecordingJournal journal(&backend_);
  auto writer = MakeWriter(BaseOptions(), &journal);
  Add(*writer, MakeBatch(1, 100, {{"h1", 2}, {"h2", 1}}));
  // When both sessions commit
  ASSERT_OK(writer->Drain(absl::Now() + absl::Seconds(10)));
  // Then each session's record says it holds one of the batch's two row groups
  int befores = 0;
  for (const RecordingJournal::Event& e : journal.events) {
    if (e.what != "before") continue;
    ++befores;
    ASSERT_EQ(e.record.batches.size(), 1u);
    EXPECT_EQ(e.record.batches[0].groups, 1);
    EXPECT_EQ(e.record.batches[0].total_groups, 2);
  }
  EXPECT_EQ(befores, 2);
}

class RefusingJournal : public CommitJournal {
 public:
  absl::Status BeforeCommit(const CommitRecord&) override {
    return absl::FailedPreconditionError("fenced: another writer owns orders/0");
  }
  absl::Status AfterCommit(const CommitRecord&) override { return absl::OkStatus(); }
};

TEST_F(TableWriterTest, JournalRefusalStopsTheCommit) {
  // Given a journal that refuses the commit (e.g. this writer has been fenced)
  RefusingJournal journal;
  auto writer = MakeWriter(BaseOptions(), &journal);
  Add(*writer, MakeBatch(1, 0, {{"h", 3}}));
  writer->Flush();
  // Then the session is never committed and the batch is reported, not acknowledged
  ASSERT_TRUE(recorder_.WaitForFailures(1));
  EXPECT_EQ(backend_.Calls(TunnelOp::kCommit), 0);
  const WriteFailure failure = recorder_.failures().at(0);
  EXPECT_EQ(failure.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(failure.status.message()), HasSubstr("journal before commit"));
  EXPECT_THAT(failure.batch_ids, ElementsAre(1u));
  EXPECT_TRUE(recorder_.AckedIds().empty());
}

// What the Tunnel client reports when the server no longer has a session (maxcompute_client's
// MaxComputeErrorToStatus of mclocal's answers).
absl::Status NoSuchUpload() {
  return absl::NotFoundError(
      "commit upload session upload-1 of table orders_sink: HTTP 404 NoSuchUpload: upload "
      "session 'upload-1' does not exist (it may have expired or the server restarted); create a "
      "new session");
}
absl::Status SessionExpired() {
  return absl::InvalidArgumentError(
      "commit upload session upload-1 of table orders_sink: HTTP 400 StatusConflict: session "
      "'upload-1' has expired; create a new session");
}

// Three one-row batches, one block each, in partition h.
void AddThreeBlocks(TableWriter& writer) {
  for (int i = 0; i < 3; ++i) {
    const absl::Status status = writer.Add(MakeBatch(i + 1, i, {{"h", 1}}));
    ASSERT_OK(status);
  }
}

TableWriterOptions OneBlockPerBatch() {
  TableWriterOptions options = BaseOptions();
  options.block_bytes = 1;
  return options;
}

TEST_F(TableWriterTest, SessionLostAtCommitIsReopenedAndItsBlocksUploadedAgain) {
  // Given a session of three uploaded blocks that the server loses before the commit (restart)
  prometheus::Registry registry;
  WriterMetrics metrics(registry, "c", "orders_sink");
  backend_.FailNth(TunnelOp::kCommit, 1, NoSuchUpload());
  RecordingJournal journal(&backend_);
  auto writer = MakeWriter(OneBlockPerBatch(), &journal, &metrics);
  AddThreeBlocks(*writer);
  // When it is committed
  writer->Flush();
  ASSERT_TRUE(recorder_.WaitForAcks(3));
  // Then a second session holds the same three blocks and is committed, rows exactly once
  EXPECT_TRUE(recorder_.failures().empty());
  EXPECT_EQ(backend_.Calls(TunnelOp::kCreateSession), 2);
  const auto commits = backend_.Commits();
  ASSERT_EQ(commits.size(), 1u);
  EXPECT_EQ(commits[0].upload_id, "upload-2");
  EXPECT_THAT(commits[0].block_ids, ElementsAre(0, 1, 2));
  EXPECT_EQ(Offsets(backend_.CommittedRows("pt=h")), Iota(0, 3));
  // And the bodies uploaded again are the kept ones, shared rather than rebuilt
  const auto bodies = backend_.UploadedBodies();
  ASSERT_EQ(bodies.size(), 6u);
  for (size_t i = 3; i < 6; ++i) {
    EXPECT_NE(std::find(bodies.begin(), bodies.begin() + 3, bodies[i]), bodies.begin() + 3)
        << "block body " << i << " was copied";
  }
  EXPECT_EQ(MetricSum(registry, "mcsink_writer_sessions_reopened_total"), 1);
  EXPECT_EQ(MetricSum(registry, "mcsink_writer_commits_total"), 1);
  EXPECT_EQ(writer->buffered_bytes(), 0);
  // And the journal's DONE names only the new session (the lost session's PENDING is left to
  // recovery, which finds it gone)
  ASSERT_EQ(journal.events.size(), 3u);
  EXPECT_EQ(journal.events[0].what, "before");
  EXPECT_EQ(journal.events[0].record.session.upload_id, "upload-1");
  EXPECT_EQ(journal.events[1].what, "before");
  EXPECT_EQ(journal.events[1].record.session.upload_id, "upload-2");
  EXPECT_THAT(journal.events[1].record.block_ids, ElementsAre(0, 1, 2));
  EXPECT_EQ(journal.events[2].what, "after");
  EXPECT_EQ(journal.events[2].record.session.upload_id, "upload-2");
}

TEST_F(TableWriterTest, SessionLostMidUploadIsReopenedAndJournaledOnlyWithTheNewSession) {
  // Given the server loses the session while its second block is uploaded
  prometheus::Registry registry;
  WriterMetrics metrics(registry, "c", "orders_sink");
  backend_.FailNth(TunnelOp::kUploadBlock, 2, NoSuchUpload());
  RecordingJournal journal(&backend_);
  auto writer = MakeWriter(OneBlockPerBatch(), &journal, &metrics);
  AddThreeBlocks(*writer);
  // When everything is committed
  ASSERT_OK(writer->Drain(absl::Now() + absl::Seconds(10)));
  // Then the new session holds all three blocks and the rows are written once
  ASSERT_TRUE(recorder_.WaitForAcks(3));
  EXPECT_TRUE(recorder_.failures().empty());
  EXPECT_EQ(backend_.Calls(TunnelOp::kCreateSession), 2);
  const auto commits = backend_.Commits();
  ASSERT_EQ(commits.size(), 1u);
  EXPECT_EQ(commits[0].upload_id, "upload-2");
  EXPECT_THAT(commits[0].block_ids, ElementsAre(0, 1, 2));
  EXPECT_EQ(Offsets(backend_.CommittedRows("pt=h")), Iota(0, 3));
  EXPECT_EQ(MetricSum(registry, "mcsink_writer_sessions_reopened_total"), 1);
  // And the journal only ever saw the new session, with all its blocks and batches
  ASSERT_EQ(journal.events.size(), 2u);
  for (const RecordingJournal::Event& e : journal.events) {
    EXPECT_EQ(e.record.session.upload_id, "upload-2") << e.what;
    EXPECT_THAT(e.record.block_ids, ElementsAre(0, 1, 2)) << e.what;
    EXPECT_EQ(e.record.batches.size(), 3u) << e.what;
  }
}

TEST_F(TableWriterTest, ExpiredSessionIsReopenedAndCommitted) {
  // Given the session expires on the server before its commit
  backend_.FailNth(TunnelOp::kCommit, 1, SessionExpired());
  auto writer = MakeWriter(OneBlockPerBatch());
  AddThreeBlocks(*writer);
  // When it is committed
  writer->Flush();
  ASSERT_TRUE(recorder_.WaitForAcks(3));
  // Then the rows are committed once, through a second session
  EXPECT_TRUE(recorder_.failures().empty());
  EXPECT_EQ(backend_.Calls(TunnelOp::kCreateSession), 2);
  ASSERT_EQ(backend_.Commits().size(), 1u);
  EXPECT_EQ(backend_.Commits()[0].upload_id, "upload-2");
  EXPECT_EQ(Offsets(backend_.CommittedRows("pt=h")), Iota(0, 3));
}

TEST_F(TableWriterTest, SessionsLostAgainAndAgainFailAfterMaxAttemptsSessions) {
  // Given a server that loses every session at commit, and three attempts allowed
  backend_.FailAlways(TunnelOp::kCommit, "", NoSuchUpload());
  TableWriterOptions options = OneBlockPerBatch();
  options.max_attempts = 3;
  auto writer = MakeWriter(options);
  AddThreeBlocks(*writer);
  // When it is committed
  writer->Flush();
  // Then after three sessions the batches are reported, not acknowledged, and released
  ASSERT_TRUE(recorder_.WaitForFailures(1));
  EXPECT_EQ(backend_.Calls(TunnelOp::kCreateSession), 3);
  EXPECT_EQ(backend_.Calls(TunnelOp::kCommit), 3);
  const WriteFailure failure = recorder_.failures().at(0);
  EXPECT_EQ(failure.status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(failure.status.message()), HasSubstr("lost or expired 3 sessions"));
  EXPECT_THAT(failure.batch_ids, ElementsAre(1u, 2u, 3u));
  EXPECT_TRUE(recorder_.AckedIds().empty());
  EXPECT_EQ(writer->buffered_bytes(), 0);
}

TEST_F(TableWriterTest, OtherNotFoundAtCommitIsNotMistakenForALostSession) {
  // Given a commit refused because the partition is missing, not because the session is gone
  backend_.FailNth(TunnelOp::kCommit, 1,
                   absl::NotFoundError("HTTP 404 NoSuchPartition: partition pt=h does not exist"));
  auto writer = MakeWriter(OneBlockPerBatch());
  AddThreeBlocks(*writer);
  // When it is committed
  writer->Flush();
  // Then the session fails as before, without a new session
  ASSERT_TRUE(recorder_.WaitForFailures(1));
  EXPECT_EQ(backend_.Calls(TunnelOp::kCreateSession), 1);
  EXPECT_THAT(std::string(recorder_.failures().at(0).status.message()),
              HasSubstr("NoSuchPartition"));
  EXPECT_TRUE(recorder_.AckedIds().empty());
}

}  // namespace
}  // namespace mcsink::writer
