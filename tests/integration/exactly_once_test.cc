// Exactly-once against a real Kafka broker (fixture `kafka`): the journal in an offset topic, a
// real TableWriter over the in-memory Tunnel backend (which checks every block and commit), and
// the ingest consumer claiming partitions through the journal; then the same crashes against
// mclocal through the production Tunnel backend. Crashes are simulated by journals
// that stop at a chosen step, so each test controls exactly where the "process" died.
#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "fake_tunnel_backend.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/common/status.h"
#include "mcsink/connection/tunnel_backend.h"
#include "mcsink/ingest/consumer_worker.h"
#include "mcsink/journal/kafka_journal.h"
#include "mcsink/kafka/admin.h"
#include "mcsink/maxcompute/compression.h"
#include "mcsink/maxcompute/record_decoder.h"
#include "mcsink/maxcompute/record_encoder.h"
#include "mcsink/maxcompute_client/rest_client.h"
#include "mcsink/maxcompute_client/tunnel_client.h"
#include "mcsink/pipeline/failure_codes.h"
#include "mcsink/testing/kafka_fixture.h"
#include "mcsink/testing/process.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsink/writer/table_writer.h"
#include "mcsink/writer/writer_service.h"
#include "prometheus/registry.h"

namespace mcsink::journal {
namespace {

using ::mcsink::ingest::OffsetSpan;
using ::mcsink::ingest::TopicPartition;
using ::mcsink::writer::CommitJournal;
using ::mcsink::writer::CommitRecord;
using ::mcsink::writer::TableWriter;
using ::mcsink::writer::testing::FakeTunnelBackend;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

maxcompute::TableSchema Schema() {
  maxcompute::TableSchema schema;
  schema.columns = {{"offset", {maxcompute::TypeKind::kBigint}}};
  schema.partition_columns = {{"pt", {maxcompute::TypeKind::kString}}};
  return schema;
}

// A batch of `topic`[0] offsets [first, first + count) under `epoch`, one row each, in pt "h".
v1::RowBatch Batch(const std::string& topic, uint64_t id, int64_t first, int64_t count,
                   int64_t epoch) {
  v1::RowBatch batch;
  batch.set_batch_id(id);
  v1::OffsetRange* r = batch.add_ranges();
  r->set_topic(topic);
  r->set_partition(0);
  r->set_first_offset(first);
  r->set_last_offset(first + count - 1);
  r->set_epoch(epoch);
  v1::RowGroup* group = batch.add_groups();
  group->set_pt("h");
  group->set_row_count(static_cast<uint64_t>(count));
  maxcompute::RecordEncoder encoder(group->mutable_encoded_rows());
  for (int64_t offset = first; offset < first + count; ++offset) {
    encoder.WriteInteger(0, offset);
    group->add_row_crcs(encoder.EndRecord());
  }
  return batch;
}

// Dies (for the writer's purposes) at one step: after PENDING, or after the commit.
class CrashingJournal : public CommitJournal {
 public:
  enum class At { kAfterPending, kAfterCommit };
  CrashingJournal(CommitJournal* inner, At at) : inner_(inner), at_(at) {}
  absl::Status BeforeCommit(const CommitRecord& record) override {
    MCSINK_RETURN_IF_ERROR(inner_->BeforeCommit(record));
    if (at_ == At::kAfterPending) return absl::FailedPreconditionError("simulated crash");
    return absl::OkStatus();
  }
  absl::Status AfterCommit(const CommitRecord&) override {
    return absl::OkStatus();  // the DONE record is never written
  }

 private:
  CommitJournal* inner_;
  At at_;
};

// The value of counter `name` (the series with label outcome=`outcome`, if given).
double CounterValue(prometheus::Registry& registry, const std::string& name,
                    const std::string& outcome = "") {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& m : family.metric) {
      bool match = outcome.empty();
      for (const prometheus::ClientMetric::Label& l : m.label) {
        match = match || (l.name == "outcome" && l.value == outcome);
      }
      if (match) return m.counter.value;
    }
  }
  return -1;
}

class ExactlyOnceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(bootstrap_, testing::KafkaFixtureBootstrap());
    ASSERT_OK_AND_ASSIGN(admin_, kafka::Admin::Create({{"bootstrap.servers", bootstrap_}}));
    connector_ = testing::UniqueTopicName("eo");
    source_ = connector_ + "-src";
    offset_topic_ = connector_ + "-offset";
    ASSERT_OK(admin_->CreateTopic({.name = source_, .partitions = 1}));
    ASSERT_OK(admin_->CreateTopic(
        {.name = offset_topic_, .partitions = 3, .configs = {{"cleanup.policy", "compact"}}}));
  }

  std::unique_ptr<KafkaJournal> Journal(const std::string& owner, writer::TunnelBackend* resolver,
                                        prometheus::Registry* registry = nullptr) {
    KafkaJournalOptions o;
    o.connector = connector_;
    o.offset_topic = offset_topic_;
    o.group_id = "connect-" + connector_;
    o.source_topic = source_;
    o.kafka_properties = {{"bootstrap.servers", bootstrap_}};
    o.timeout = absl::Seconds(20);
    o.owner = owner;
    o.registry = registry;
    absl::StatusOr<std::unique_ptr<KafkaJournal>> journal = KafkaJournal::Create(o, resolver);
    EXPECT_OK(journal.status());
    return journal.ok() ? *std::move(journal) : nullptr;
  }

  ingest::PartitionClaim Claim(KafkaJournal& journal) {
    absl::StatusOr<std::map<TopicPartition, ingest::PartitionClaim>> claims =
        journal.Claim({{source_, 0}});
    EXPECT_OK(claims.status());
    if (!claims.ok()) return {};
    return claims->at({source_, 0});
  }

  struct WriteResult {
    int acks = 0;
    std::vector<std::string> failures;
    std::vector<bool> fenced;  // of each failure
  };
  // Writes `batch` through a TableWriter using `journal` and drains it.
  WriteResult Write(CommitJournal* journal, v1::RowBatch batch) {
    return WriteTo(&backend_, journal, std::move(batch));
  }
  WriteResult WriteTo(writer::TunnelBackend* backend, CommitJournal* journal, v1::RowBatch batch) {
    WriteResult result;
    absl::Mutex mu;
    writer::TableWriterOptions options;
    options.table = table_;
    options.max_attempts = 2;
    options.initial_backoff = absl::Milliseconds(10);
    auto tw = std::make_unique<TableWriter>(
        options, backend,
        writer::TableWriterCallbacks{.on_ack =
                                         [&](v1::Ack) {
                                           absl::MutexLock lock(&mu);
                                           ++result.acks;
                                         },
                                     .on_failure =
                                         [&](const writer::WriteFailure& f) {
                                           absl::MutexLock lock(&mu);
                                           result.failures.push_back(
                                               std::string(f.status.message()));
                                           result.fenced.push_back(writer::IsFenced(f.status));
                                         }},
        writer::TableWriterDeps{.journal = journal});
    EXPECT_OK(tw->Add(std::move(batch)));
    EXPECT_OK(tw->Drain(absl::Now() + absl::Seconds(60)));
    return result;
  }

  std::string bootstrap_, connector_, source_, offset_topic_;
  std::string table_ = "t";
  std::unique_ptr<kafka::Admin> admin_;
  FakeTunnelBackend backend_{Schema()};
};

TEST_F(ExactlyOnceTest, CommittedSessionIsSkippedByTheNextOwner) {
  // Given owner 1 consumed offsets 0..4 and its writer committed them with the journal
  auto owner1 = Journal("owner1", &backend_);
  auto writer = Journal("writer", nullptr);
  const ingest::PartitionClaim first = Claim(*owner1);
  EXPECT_GT(first.epoch, 0);
  EXPECT_THAT(first.written, IsEmpty());
  const WriteResult result = Write(writer.get(), Batch(source_, 1, 0, 5, first.epoch));
  EXPECT_EQ(result.acks, 1);
  EXPECT_THAT(result.failures, IsEmpty());
  // When another owner claims the partition
  auto owner2 = Journal("owner2", &backend_);
  const ingest::PartitionClaim second = Claim(*owner2);
  // Then it has a newer epoch and skips 0..4, and nothing was committed again
  EXPECT_GT(second.epoch, first.epoch);
  EXPECT_THAT(second.written, ElementsAre(OffsetSpan{0, 4}));
  EXPECT_EQ(backend_.Commits().size(), 1u);
}

TEST_F(ExactlyOnceTest, CrashBetweenCommitAndDoneIsRecognizedAsWritten) {
  // Given a writer that committed offsets 0..4 and died before writing DONE
  auto owner1 = Journal("owner1", &backend_);
  auto writer = Journal("writer", nullptr);
  const ingest::PartitionClaim first = Claim(*owner1);
  CrashingJournal crashing(writer.get(), CrashingJournal::At::kAfterCommit);
  Write(&crashing, Batch(source_, 1, 0, 5, first.epoch));
  ASSERT_EQ(backend_.Commits().size(), 1u);
  // When the next owner claims the partition
  prometheus::Registry registry;
  auto owner2 = Journal("owner2", &backend_, &registry);
  const ingest::PartitionClaim second = Claim(*owner2);
  // Then recovery asked MaxCompute, found the session committed, and skips its offsets: the rows
  // are in the table once
  EXPECT_THAT(second.written, ElementsAre(OffsetSpan{0, 4}));
  EXPECT_EQ(backend_.Commits().size(), 1u);
  EXPECT_EQ(backend_.CommittedRows("pt=h").size(), 5u);
  EXPECT_EQ(CounterValue(registry, "mcsink_journal_recovered_sessions_total", "committed"), 1);
  EXPECT_EQ(CounterValue(registry, "mcsink_journal_written_spans_total"), 1);
  // And it recorded DONE: a third owner needs no MaxCompute at all
  auto owner3 = Journal("owner3", nullptr);
  EXPECT_THAT(Claim(*owner3).written, ElementsAre(OffsetSpan{0, 4}));
}

TEST_F(ExactlyOnceTest, SessionLeftOpenAfterPendingIsCommittedByRecovery) {
  // Given a writer that uploaded its blocks, wrote PENDING and died before committing
  auto owner1 = Journal("owner1", &backend_);
  auto writer = Journal("writer", nullptr);
  const ingest::PartitionClaim first = Claim(*owner1);
  CrashingJournal crashing(writer.get(), CrashingJournal::At::kAfterPending);
  const WriteResult result = Write(&crashing, Batch(source_, 1, 0, 5, first.epoch));
  ASSERT_EQ(result.acks, 0);
  EXPECT_THAT(result.fenced, ElementsAre(false));
  ASSERT_TRUE(backend_.Commits().empty());
  // When the next owner claims the partition
  auto owner2 = Journal("owner2", &backend_);
  const ingest::PartitionClaim second = Claim(*owner2);
  // Then recovery committed the session with the journaled blocks and skips its offsets
  ASSERT_EQ(backend_.Commits().size(), 1u);
  EXPECT_EQ(backend_.CommittedRows("pt=h").size(), 5u);
  EXPECT_THAT(second.written, ElementsAre(OffsetSpan{0, 4}));
}

TEST_F(ExactlyOnceTest, StaleWriterIsFencedOnceANewOwnerClaimed) {
  // Given owner 1 consumed offsets 0..4, then owner 2 claimed the partition
  auto owner1 = Journal("owner1", &backend_);
  const ingest::PartitionClaim first = Claim(*owner1);
  auto owner2 = Journal("owner2", &backend_);
  Claim(*owner2);
  // When owner 1's writer tries to commit those offsets
  prometheus::Registry registry;
  auto writer = Journal("writer", nullptr, &registry);
  const WriteResult result = Write(writer.get(), Batch(source_, 1, 0, 5, first.epoch));
  // Then it does not commit: the batch fails, saying it was fenced
  EXPECT_EQ(result.acks, 0);
  ASSERT_EQ(result.failures.size(), 1u);
  EXPECT_THAT(result.failures[0], HasSubstr("fenced"));
  EXPECT_THAT(result.fenced, ElementsAre(true));
  EXPECT_EQ(CounterValue(registry, "mcsink_journal_fenced_commits_total"), 1);
  EXPECT_TRUE(backend_.Commits().empty());
  // And a later owner neither commits nor skips them: they are read again
  auto owner3 = Journal("owner3", &backend_);
  EXPECT_THAT(Claim(*owner3).written, IsEmpty());
  EXPECT_TRUE(backend_.Commits().empty());
}

TEST_F(ExactlyOnceTest, SessionUnknownToMaxComputeIsReadAgain) {
  // Given a PENDING for a session MaxCompute no longer knows (expired)
  auto owner1 = Journal("owner1", &backend_);
  auto writer = Journal("writer", nullptr);
  const ingest::PartitionClaim first = Claim(*owner1);
  CommitRecord record;
  record.session = {"t", "pt=h", "expired-upload"};
  record.block_ids = {0};
  v1::OffsetRange range;
  range.set_topic(source_);
  range.set_partition(0);
  range.set_first_offset(0);
  range.set_last_offset(4);
  range.set_epoch(first.epoch);
  record.batches.push_back({1, {range}, 1, 1});
  ASSERT_OK(writer->BeforeCommit(record));
  // When the next owner claims the partition
  auto owner2 = Journal("owner2", &backend_);
  // Then nothing is skipped and nothing committed
  EXPECT_THAT(Claim(*owner2).written, IsEmpty());
  EXPECT_TRUE(backend_.Commits().empty());
}

TEST_F(ExactlyOnceTest, OffsetResetForgetsWrittenRangesSoTheyAreWrittenAgain) {
  // Given offsets 0..4 written under the journal
  auto owner1 = Journal("owner1", &backend_);
  auto writer = Journal("writer", nullptr);
  const ingest::PartitionClaim first = Claim(*owner1);
  ASSERT_EQ(Write(writer.get(), Batch(source_, 1, 0, 5, first.epoch)).acks, 1);
  // When the offsets are reset (the connector stopped) and the journal told so
  auto controller = Journal("controller", nullptr);
  ASSERT_OK_AND_ASSIGN(const int forgotten, controller->ForgetSessions({{source_, 0}}));
  // Then the next owner skips nothing
  EXPECT_EQ(forgotten, 1);
  auto owner2 = Journal("owner2", &backend_);
  EXPECT_THAT(Claim(*owner2).written, IsEmpty());
}

TEST_F(ExactlyOnceTest, JournalCreatedBeforeItsTopicWorksOnceTheTopicExists) {
  // Given a journal whose offset topic does not exist yet (services start in any order)
  offset_topic_ = connector_ + "-late";
  auto journal = Journal("early", &backend_);
  ASSERT_NE(journal, nullptr);
  EXPECT_EQ(journal->partition(), -1);
  const absl::Status early = journal->Claim({{source_, 0}}).status();
  EXPECT_TRUE(absl::IsUnavailable(early)) << early;
  // When the topic is created
  ASSERT_OK(admin_->CreateTopic(
      {.name = offset_topic_, .partitions = 3, .configs = {{"cleanup.policy", "compact"}}}));
  // Then the journal finds it and claims work
  EXPECT_GT(Claim(*journal).epoch, 0);
  EXPECT_GE(journal->partition(), 0);
}

// Acknowledges every batch at once, like a pipeline that writes instantly.
class AckingSink : public ingest::BatchSink {
 public:
  absl::Status Send(v1::RecordBatch batch) override {
    absl::MutexLock lock(&mu_);
    for (const v1::KafkaRecord& r : batch.records()) offsets_.push_back(r.offset());
    for (const v1::OffsetRange& r : batch.ranges()) epochs_.insert(r.epoch());
    if (worker_ != nullptr) worker_->OnAck(batch.batch_id());
    return absl::OkStatus();
  }
  void set_worker(ingest::ConsumerWorker* w) {
    absl::MutexLock lock(&mu_);
    worker_ = w;
  }
  bool WaitFor(size_t count) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return offsets_.size() >= count; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(60));
  }
  absl::Mutex mu_;
  ingest::ConsumerWorker* worker_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::vector<int64_t> offsets_ ABSL_GUARDED_BY(mu_);
  std::set<int64_t> epochs_ ABSL_GUARDED_BY(mu_);
};

TEST_F(ExactlyOnceTest, IngestSkipsWrittenOffsetsStampsItsEpochAndCommitsPastThem) {
  // Given 10 records, of which 0..4 were written by a previous owner
  ASSERT_OK(testing::ProduceTestRecords(
      bootstrap_, source_, 10, [](int64_t i) { return absl::StrCat(i); },
      [](int64_t i) { return absl::StrCat("v", i); }, 0));
  auto owner1 = Journal("owner1", &backend_);
  auto writer = Journal("writer", nullptr);
  const ingest::PartitionClaim first = Claim(*owner1);
  ASSERT_EQ(Write(writer.get(), Batch(source_, 1, 0, 5, first.epoch)).acks, 1);
  // When an ingest consumer with the journal as its gate consumes the partition
  auto gate = Journal("ingest", &backend_);
  ingest::ConsumerOptions o;
  o.connector = connector_;
  o.kafka_properties = {{"bootstrap.servers", bootstrap_},
                        {"session.timeout.ms", "6000"},
                        {"heartbeat.interval.ms", "500"}};
  o.group_id = "connect-" + connector_;
  o.topic = source_;
  o.linger = absl::Milliseconds(20);
  o.commit_interval = absl::Milliseconds(100);
  o.gate = gate.get();
  AckingSink sink;
  ASSERT_OK_AND_ASSIGN(auto worker, ingest::ConsumerWorker::Create(o, &sink, 0));
  sink.set_worker(worker.get());
  worker->Start();
  ASSERT_TRUE(sink.WaitFor(5));
  worker->Stop(absl::Seconds(10));
  // Then it sent only 5..9, under an epoch newer than the previous owner's, and skipped 0..4
  {
    absl::MutexLock lock(&sink.mu_);
    EXPECT_THAT(sink.offsets_, ElementsAre(5, 6, 7, 8, 9));
    ASSERT_EQ(sink.epochs_.size(), 1u);
    EXPECT_GT(*sink.epochs_.begin(), first.epoch);
  }
  EXPECT_EQ(worker->stats().skipped, 5);
  // And the group's committed offset moved past the skipped records too
  ASSERT_OK_AND_ASSIGN(auto committed, admin_->CommittedOffsets(o.group_id, source_));
  EXPECT_EQ(committed[0], 10);
  // And the next recovery has nothing to skip (the session lies below the committed offset) and
  // prunes the session from the journal
  auto later = Journal("later", &backend_);
  EXPECT_THAT(Claim(*later).written, IsEmpty());
  ASSERT_OK_AND_ASSIGN(const int left, later->ForgetSessions({{source_, 0}}));
  EXPECT_EQ(left, 0);
}

// The same crashes against mclocal, our local MaxCompute, through the production Tunnel backend:
// the rows in the table are what counts.
class ExactlyOnceMclocalTest : public ExactlyOnceTest {
 protected:
  void SetUp() override {
    ExactlyOnceTest::SetUp();
    table_ = "eo_table";
    dir_ = ::testing::TempDir() + "/" + testing::UniqueTopicName("eo-mclocal");
    std::filesystem::create_directories(dir_);
    ASSERT_OK_AND_ASSIGN(server_, testing::ChildProcess::Start(
                                      {MCSINK_MCLOCAL, "--address=127.0.0.1:0",
                                       "--port_file=" + dir_ + "/port", "--data_dir=" + dir_},
                                      dir_ + "/mclocal.log"));
    ASSERT_OK_AND_ASSIGN(const std::string port,
                         testing::WaitForFileLine(dir_ + "/port", absl::Seconds(30)));
    auto credentials = std::make_shared<maxcompute_client::StaticCredentialsProvider>(
        maxcompute_client::Credentials{"ak", "sk", "", std::nullopt});
    ASSERT_OK_AND_ASSIGN(
        rest_,
        maxcompute_client::RestClient::Create(
            {.endpoint = "http://127.0.0.1:" + port + "/api", .project = "eo"}, credentials));
    ASSERT_OK_AND_ASSIGN(
        tunnel_, maxcompute_client::TunnelClient::Create(
                     {.endpoint = "http://127.0.0.1:" + port, .project = "eo"}, credentials));
    ASSERT_OK(rest_->RunSql(
        {.query = "CREATE TABLE eo_table(offset BIGINT) PARTITIONED by (pt STRING);"}));
    mc_ = std::make_unique<connection::MaxComputeTunnelBackend>(rest_.get(), tunnel_.get());
  }

  // Offsets in the table's partition pt=h, in row order.
  std::vector<int64_t> TableOffsets() {
    const maxcompute_client::UploadTarget target{table_, "pt=h", ""};
    auto session = tunnel_->CreateDownloadSession(target);
    EXPECT_OK(session);
    if (!session.ok()) return {};
    auto data = tunnel_->ReadRows(target, session->download_id, 0, 1000, {});
    EXPECT_OK(data);
    if (!data.ok()) return {};
    std::string stream = data->body;
    if (!data->content_encoding.empty()) {
      stream = *maxcompute::Decompress(*maxcompute::ParseContentEncoding(data->content_encoding),
                                       data->body, 1 << 30);
    }
    maxcompute::TableSchema schema;
    schema.columns = {{"offset", {maxcompute::TypeKind::kBigint}}};
    auto rows = maxcompute::DecodeRecordStream(schema, stream);
    EXPECT_OK(rows);
    std::vector<int64_t> offsets;
    for (const maxcompute::Row& row : rows.value_or(std::vector<maxcompute::Row>{})) {
      offsets.push_back(std::get<int64_t>(row[0]));
    }
    return offsets;
  }

  std::string dir_;
  testing::ChildProcess server_ = *testing::ChildProcess::Start({"/bin/true"}, "/dev/null");
  std::unique_ptr<maxcompute_client::RestClient> rest_;
  std::unique_ptr<maxcompute_client::TunnelClient> tunnel_;
  std::unique_ptr<connection::MaxComputeTunnelBackend> mc_;
};

TEST_F(ExactlyOnceMclocalTest, CrashesAroundTheCommitLeaveEachOffsetOnceInTheTable) {
  // Given owner 1's writer committed 0..4 and died before DONE, and wrote PENDING for 5..9 and
  // died before committing
  auto owner1 = Journal("owner1", mc_.get());
  auto writer = Journal("writer", nullptr);
  const ingest::PartitionClaim first = Claim(*owner1);
  CrashingJournal after_commit(writer.get(), CrashingJournal::At::kAfterCommit);
  ASSERT_EQ(WriteTo(mc_.get(), &after_commit, Batch(source_, 1, 0, 5, first.epoch)).acks, 1);
  CrashingJournal after_pending(writer.get(), CrashingJournal::At::kAfterPending);
  ASSERT_EQ(WriteTo(mc_.get(), &after_pending, Batch(source_, 2, 5, 5, first.epoch)).acks, 0);
  ASSERT_EQ(TableOffsets().size(), 5u);
  // When owner 2 claims the partition
  auto owner2 = Journal("owner2", mc_.get());
  const ingest::PartitionClaim second = Claim(*owner2);
  // Then it found the first session committed, committed the second, and skips all of 0..9
  EXPECT_THAT(second.written, ElementsAre(OffsetSpan{0, 9}));
  // And, after it writes what follows, the table holds every offset exactly once
  ASSERT_EQ(WriteTo(mc_.get(), writer.get(), Batch(source_, 3, 10, 5, second.epoch)).acks, 1);
  std::vector<int64_t> offsets = TableOffsets();
  std::sort(offsets.begin(), offsets.end());
  std::vector<int64_t> expected;
  for (int64_t i = 0; i < 15; ++i) expected.push_back(i);
  EXPECT_EQ(offsets, expected);
}

// ---- Redelivered batches (RowBatch.redelivery) and first-PENDING-wins ----

// Sends `batch` to a WriterService over gRPC (in process) and returns its acknowledgement.
class ServiceClient {
 public:
  ServiceClient(const std::string& table, writer::TunnelBackend* backend, CommitJournal* journal) {
    writer::TableWriterOptions options;
    options.table = table;
    options.commit_interval = absl::Milliseconds(100);  // commit soon after each batch
    options.max_attempts = 2;
    options.initial_backoff = absl::Milliseconds(10);
    absl::StatusOr<std::unique_ptr<writer::WriterService>> service =
        writer::WriterService::Create(options, backend, {.journal = journal});
    EXPECT_OK(service.status());
    if (!service.ok()) return;
    service_ = *std::move(service);
    absl::StatusOr<std::unique_ptr<GrpcServer>> server =
        GrpcServer::Start({.services = {{service_.get(), "w"}}});
    EXPECT_OK(server.status());
    if (!server.ok()) return;
    server_ = *std::move(server);
    stub_ = v1::Writer::NewStub(server_->InProcessChannel());
    context_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(90)));
    stream_ = stub_->Write(&context_);
  }
  ~ServiceClient() {
    if (stream_ != nullptr) {
      stream_->WritesDone();
      v1::Ack ignored;
      while (stream_->Read(&ignored)) {
      }
      (void)stream_->Finish();
    }
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(1));
  }
  // Sends the batch and waits for its answer; nullopt if the stream ended first.
  std::optional<v1::Ack> Send(const v1::RowBatch& batch) {
    if (stream_ == nullptr || !stream_->Write(batch)) return std::nullopt;
    v1::Ack ack;
    if (!stream_->Read(&ack)) return std::nullopt;
    return ack;
  }

 private:
  std::unique_ptr<writer::WriterService> service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<v1::Writer::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::RowBatch, v1::Ack>> stream_;
};

v1::RowBatch Redelivered(v1::RowBatch batch) {
  batch.set_redelivery(true);
  return batch;
}

TEST_F(ExactlyOnceTest, RedeliveredBatchAlreadyCommittedIsAcknowledgedWithoutWriting) {
  // Given writer 1 committed offsets 0..4 (DONE in the journal)
  auto owner = Journal("owner", &backend_);
  const ingest::PartitionClaim claim = Claim(*owner);
  auto writer1 = Journal("writer1", &backend_);
  ASSERT_EQ(Write(writer1.get(), Batch(source_, 1, 0, 5, claim.epoch)).acks, 1);
  ASSERT_EQ(backend_.Commits().size(), 1u);
  // When transform re-sends the same batch, marked as a redelivery, to another writer
  prometheus::Registry registry;
  auto writer2 = Journal("writer2", &backend_, &registry);
  ServiceClient client(table_, &backend_, writer2.get());
  const std::optional<v1::Ack> ack = client.Send(Redelivered(Batch(source_, 9, 0, 5, claim.epoch)));
  // Then it is acknowledged under its own id without a failure, and nothing is written again
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->batch_id(), 9u);
  EXPECT_EQ(ack->failures_size(), 0);
  EXPECT_EQ(backend_.Commits().size(), 1u);
  EXPECT_EQ(backend_.CommittedRows("pt=h").size(), 5u);
  EXPECT_EQ(CounterValue(registry, "mcsink_journal_redelivered_batches_total", "already_written"),
            1);
}

TEST_F(ExactlyOnceTest, RedeliveredBatchNeverWrittenIsWritten) {
  auto owner = Journal("owner", &backend_);
  const ingest::PartitionClaim claim = Claim(*owner);
  prometheus::Registry registry;
  auto writer = Journal("writer", &backend_, &registry);
  ServiceClient client(table_, &backend_, writer.get());
  // When a batch the journal knows nothing of comes as a redelivery
  const std::optional<v1::Ack> ack = client.Send(Redelivered(Batch(source_, 3, 0, 5, claim.epoch)));
  // Then it is written and acknowledged as usual
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->failures_size(), 0);
  EXPECT_EQ(backend_.CommittedRows("pt=h").size(), 5u);
  EXPECT_EQ(CounterValue(registry, "mcsink_journal_redelivered_batches_total", "written"), 1);
}

TEST_F(ExactlyOnceTest, RedeliveredBatchWrittenInPartIsAnsweredWithTheUnwrittenOffsets) {
  // Given offsets 0..4 committed
  auto owner = Journal("owner", &backend_);
  const ingest::PartitionClaim claim = Claim(*owner);
  auto writer = Journal("writer", &backend_);
  ASSERT_EQ(Write(writer.get(), Batch(source_, 1, 0, 5, claim.epoch)).acks, 1);
  // When a redelivered batch of 0..9 arrives
  ServiceClient client(table_, &backend_, writer.get());
  const std::optional<v1::Ack> ack =
      client.Send(Redelivered(Batch(source_, 4, 0, 10, claim.epoch)));
  // Then it is answered FENCED naming exactly 5..9, and nothing is written
  ASSERT_TRUE(ack.has_value());
  ASSERT_EQ(ack->failures_size(), 1);
  EXPECT_EQ(ack->failures(0).code(), pipeline::kFenced);
  ASSERT_EQ(ack->failures(0).ranges_size(), 1);
  EXPECT_EQ(ack->failures(0).ranges(0).first_offset(), 5);
  EXPECT_EQ(ack->failures(0).ranges(0).last_offset(), 9);
  EXPECT_EQ(ack->failures(0).ranges(0).epoch(), claim.epoch);
  EXPECT_EQ(backend_.CommittedRows("pt=h").size(), 5u);
}

TEST_F(ExactlyOnceTest, RedeliveryResolvesThePendingSessionOfADeadWriter) {
  // Given writer 1 uploaded offsets 0..4, journaled PENDING and died before committing
  auto owner = Journal("owner", &backend_);
  const ingest::PartitionClaim claim = Claim(*owner);
  auto writer1 = Journal("writer1", nullptr);
  CrashingJournal crashing(writer1.get(), CrashingJournal::At::kAfterPending);
  ASSERT_EQ(Write(&crashing, Batch(source_, 1, 0, 5, claim.epoch)).acks, 0);
  ASSERT_TRUE(backend_.Commits().empty());
  // When the batch is redelivered to writer 2
  prometheus::Registry registry;
  auto writer2 = Journal("writer2", &backend_, &registry);
  ServiceClient client(table_, &backend_, writer2.get());
  const std::optional<v1::Ack> ack = client.Send(Redelivered(Batch(source_, 2, 0, 5, claim.epoch)));
  // Then writer 2 committed writer 1's session (not a new one) and acknowledged the batch: the
  // table holds each offset once
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->failures_size(), 0);
  ASSERT_EQ(backend_.Commits().size(), 1u);
  std::set<int64_t> offsets;
  for (const maxcompute::Row& row : backend_.CommittedRows("pt=h")) {
    offsets.insert(std::get<int64_t>(row[0]));
  }
  EXPECT_EQ(backend_.CommittedRows("pt=h").size(), 5u);
  EXPECT_THAT(offsets, ElementsAre(0, 1, 2, 3, 4));
  EXPECT_EQ(CounterValue(registry, "mcsink_journal_recovered_sessions_total", "committed"), 1);
  EXPECT_EQ(CounterValue(registry, "mcsink_journal_redelivered_batches_total", "already_written"),
            1);
  // And the next owner skips those offsets without resolving anything
  auto next = Journal("next", nullptr);
  EXPECT_THAT(Claim(*next).written, ElementsAre(OffsetSpan{0, 4}));
}

TEST_F(ExactlyOnceTest, OfTwoSessionsHoldingTheSameRangesOnlyTheFirstCommits) {
  // Given writer 1 journaled PENDING for offsets 0..4 and is about to commit
  auto owner = Journal("owner", &backend_);
  const ingest::PartitionClaim claim = Claim(*owner);
  auto writer1 = Journal("writer1", nullptr);
  CommitRecord record;
  record.session = {table_, "pt=h", "first-upload"};
  record.block_ids = {0};
  record.batches.push_back({1, {Batch(source_, 1, 0, 5, claim.epoch).ranges(0)}, 1, 1});
  ASSERT_OK(writer1->BeforeCommit(record));
  // When writer 2 writes another copy of the same batch (not marked as a redelivery)
  prometheus::Registry registry;
  auto writer2 = Journal("writer2", nullptr, &registry);
  const WriteResult result = Write(writer2.get(), Batch(source_, 1, 0, 5, claim.epoch));
  // Then writer 2's session is refused as FENCED, naming the earlier session, and not committed
  EXPECT_EQ(result.acks, 0);
  ASSERT_EQ(result.failures.size(), 1u);
  EXPECT_THAT(result.failures[0], HasSubstr("first-upload"));
  EXPECT_THAT(result.fenced, ElementsAre(true));
  EXPECT_TRUE(backend_.Commits().empty());
  EXPECT_EQ(CounterValue(registry, "mcsink_journal_duplicate_sessions_refused_total"), 1);
  // And the first still holds the offsets: a third copy is refused too
  auto writer3 = Journal("writer3", nullptr);
  EXPECT_EQ(Write(writer3.get(), Batch(source_, 1, 0, 5, claim.epoch)).acks, 0);
  EXPECT_TRUE(backend_.Commits().empty());
  // And the refused sessions were journaled ABORTED: only the first is left to settle
  auto reader = Journal("reader", nullptr);
  ASSERT_OK_AND_ASSIGN(const int sessions, reader->ForgetSessions({{source_, 0}}));
  EXPECT_EQ(sessions, 1);
}

// A gate that fails its first claims, then grants epoch 7 with nothing written.
class FlakyGate : public ingest::PartitionGate {
 public:
  explicit FlakyGate(int failures) : failures_(failures) {}
  absl::StatusOr<std::map<TopicPartition, ingest::PartitionClaim>> Claim(
      const std::vector<TopicPartition>& partitions) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    if (calls_ <= failures_) return absl::UnavailableError("journal unavailable");
    std::map<TopicPartition, ingest::PartitionClaim> claims;
    for (const TopicPartition& tp : partitions) claims[tp].epoch = 7;
    return claims;
  }
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  absl::Mutex mu_;
  const int failures_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST_F(ExactlyOnceTest, CooperativeRebalancingIsRefusedWithTheJournal) {
  FlakyGate gate(0);
  ingest::ConsumerOptions o;
  o.kafka_properties = {{"bootstrap.servers", bootstrap_},
                        {"partition.assignment.strategy", "cooperative-sticky"}};
  o.group_id = "connect-" + connector_;
  o.topic = source_;
  o.gate = &gate;
  AckingSink sink;
  const absl::Status status = ingest::ConsumerWorker::Create(o, &sink, 0).status();
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("eager"));
}

TEST_F(ExactlyOnceTest, IngestReadsNothingUntilItsClaimSucceeds) {
  // Given records, and a journal that fails the first two claims
  ASSERT_OK(testing::ProduceTestRecords(
      bootstrap_, source_, 3, [](int64_t i) { return absl::StrCat(i); },
      [](int64_t i) { return absl::StrCat("v", i); }, 0));
  FlakyGate gate(2);
  ingest::ConsumerOptions o;
  o.connector = connector_;
  o.kafka_properties = {{"bootstrap.servers", bootstrap_},
                        {"session.timeout.ms", "6000"},
                        {"heartbeat.interval.ms", "500"}};
  o.group_id = "connect-" + connector_;
  o.topic = source_;
  o.linger = absl::Milliseconds(20);
  o.gate = &gate;
  AckingSink sink;
  ASSERT_OK_AND_ASSIGN(auto worker, ingest::ConsumerWorker::Create(o, &sink, 0));
  sink.set_worker(worker.get());
  // When the consumer runs
  worker->Start();
  ASSERT_TRUE(sink.WaitFor(3));
  worker->Stop(absl::Seconds(10));
  // Then it retried the claim and sent every record under the epoch it was finally granted
  EXPECT_EQ(gate.calls(), 3);
  absl::MutexLock lock(&sink.mu_);
  EXPECT_THAT(sink.offsets_, ElementsAre(0, 1, 2));
  EXPECT_THAT(sink.epochs_, ElementsAre(7));
}

}  // namespace
}  // namespace mcsink::journal
