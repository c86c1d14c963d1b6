// Flow control through transform: a RecordBatch's flush_hint reaches the writer on its RowBatch,
// and transform sets the hint itself once its own stream to the writer is congested. The writer
// is an in-process test server; no record fails, so the error topic (whose broker address leads
// nowhere) is never used.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/config/connector_config.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsink/transform/transform_service.h"
#include "prometheus/registry.h"

namespace mcsink::transform {
namespace {

// Records the flush_hint of each RowBatch it receives; acknowledges them unless holding (then
// never: a held batch stays unacknowledged, as behind a writer waiting for its commit).
class HoldingWriter : public v1::Writer::Service {
 public:
  grpc::Status Write(grpc::ServerContext*,
                     grpc::ServerReaderWriter<v1::Ack, v1::RowBatch>* stream) override {
    v1::RowBatch batch;
    while (stream->Read(&batch)) {
      absl::MutexLock lock(&mu_);
      hints_.push_back(batch.flush_hint());
      if (hold_) continue;
      v1::Ack ack;
      ack.set_batch_id(batch.batch_id());
      stream->Write(ack);
    }
    return grpc::Status::OK;
  }
  void Hold(bool hold) {
    absl::MutexLock lock(&mu_);
    hold_ = hold;
  }
  // The flush_hint of each batch received, in order, once there are `n`.
  std::vector<bool> WaitHints(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return hints_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
    return hints_;
  }

 private:
  absl::Mutex mu_;
  std::vector<bool> hints_ ABSL_GUARDED_BY(mu_);
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
};

class TransformFlushHintTest : public ::testing::Test {
 protected:
  void Start(int64_t writer_unacked_bytes) {
    ASSERT_OK_AND_ASSIGN(writer_server_, GrpcServer::Start({.services = {{&writer_, "w"}}}));
    v1::ConnectorConfig config;
    config.set_name("hint");
    config.set_source_topic("orders");
    (*config.mutable_kafka_properties())["bootstrap.servers"] = "127.0.0.1:1";
    config.mutable_target()->set_endpoint("http://127.0.0.1:1/api");
    config.mutable_target()->set_project("p");
    config.mutable_target()->set_table("t");
    config.mutable_target()->mutable_access_key_id()->set_env("AK");
    config.mutable_target()->mutable_access_key_secret()->set_env("SK");
    ASSERT_OK_AND_ASSIGN(v1::ConnectorConfig normalized, config::Normalize(config));

    TransformServiceOptions options;
    options.connector = normalized;
    options.schema.columns = {{"topic", {maxcompute::TypeKind::kString}},
                              {"partition", {maxcompute::TypeKind::kBigint}},
                              {"offset", {maxcompute::TypeKind::kBigint}},
                              {"key", {maxcompute::TypeKind::kString}},
                              {"value", {maxcompute::TypeKind::kString}}};
    options.schema.partition_columns = {{"pt", {maxcompute::TypeKind::kString}}};
    options.kafka_properties = {{"bootstrap.servers", "127.0.0.1:1"}};
    options.writer_channel = writer_server_->InProcessChannel();
    options.max_unacked_bytes = writer_unacked_bytes;
    ASSERT_OK_AND_ASSIGN(service_, TransformService::Create(options, registry_));
    ASSERT_OK_AND_ASSIGN(server_, GrpcServer::Start({.services = {{service_.get(), "t"}}}));
    auto stub =
        std::shared_ptr<v1::Transform::Stub>(v1::Transform::NewStub(server_->InProcessChannel()));
    client_ = std::make_unique<pipeline::StreamClient<v1::RecordBatch, v1::Ack>>(
        pipeline::StreamClientOptions{.name = "test->transform"},
        [stub](grpc::ClientContext* ctx) { return stub->Convert(ctx); }, [](const v1::Ack&) {});
  }

  void TearDown() override {
    // Held batches are never acknowledged: nothing to wait for.
    if (client_ != nullptr) client_->Close(absl::ZeroDuration());
    if (service_ != nullptr) service_->Stop(absl::ZeroDuration());
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(1));
    if (writer_server_ != nullptr) writer_server_->Shutdown(absl::Seconds(1));
  }

  // One record of orders/0 at `offset`, with a 1000-byte value.
  static v1::RecordBatch Batch(uint64_t id, int64_t offset, bool hint) {
    v1::RecordBatch b;
    b.set_batch_id(id);
    b.set_connector("hint");
    b.set_topic("orders");
    b.set_flush_hint(hint);
    v1::OffsetRange* r = b.add_ranges();
    r->set_topic("orders");
    r->set_partition(0);
    r->set_first_offset(offset);
    r->set_last_offset(offset);
    v1::KafkaRecord* rec = b.add_records();
    rec->set_partition(0);
    rec->set_offset(offset);
    rec->set_timestamp_ms(1605596400000);
    rec->set_timestamp_type(v1::KafkaRecord::TIMESTAMP_CREATE_TIME);
    rec->set_key(absl::StrCat("k", offset));
    rec->set_value(std::string(1000, 'v'));
    return b;
  }

  HoldingWriter writer_;
  prometheus::Registry registry_;
  std::unique_ptr<GrpcServer> writer_server_;
  std::unique_ptr<TransformService> service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<pipeline::StreamClient<v1::RecordBatch, v1::Ack>> client_;
};

TEST_F(TransformFlushHintTest, HintFromIngestIsCarriedToTheWriter) {
  // Given a transform whose stream to the writer is far from its bound
  Start(64 << 20);
  // When ingest sends a batch without the hint, then one with it
  ASSERT_OK(client_->Send(Batch(1, 0, false)));
  ASSERT_OK(client_->Send(Batch(2, 1, true)));
  // Then the writer receives the hint on the second RowBatch only
  EXPECT_EQ(writer_.WaitHints(2), (std::vector<bool>{false, true}));
}

TEST_F(TransformFlushHintTest, HintWithoutRecordsStillReachesTheWriter) {
  // Given a transform (ingest sends a batch without records but with the hint before it waits
  // for acknowledgements, on revocation or drain)
  Start(64 << 20);
  v1::RecordBatch hint_only;
  hint_only.set_batch_id(9);
  hint_only.set_connector("hint");
  hint_only.set_topic("orders");
  hint_only.set_flush_hint(true);
  // When ingest sends a batch without the hint, then one without records that has it
  ASSERT_OK(client_->Send(Batch(1, 0, false)));
  ASSERT_OK(client_->Send(hint_only));
  // Then the writer receives the second too, with the hint, though it has no rows
  EXPECT_EQ(writer_.WaitHints(2), (std::vector<bool>{false, true}));
}

TEST_F(TransformFlushHintTest, TransformHintsWhenItsOwnStreamToTheWriterIsCongested) {
  // Given a writer that does not acknowledge, and a bound of a few rows on transform's stream
  writer_.Hold(true);
  Start(5000);
  // When batches without the hint pile up unacknowledged (each RowBatch holds about 1 KB)
  for (uint64_t id = 1; id <= 4; ++id) {
    ASSERT_OK(client_->Send(Batch(id, static_cast<int64_t>(id), false)));
  }
  // Then the first ones go without the hint and, from half the bound on (after the third),
  // transform asks the writer to commit now
  EXPECT_EQ(writer_.WaitHints(4), (std::vector<bool>{false, false, false, true}));
}

}  // namespace
}  // namespace mcsink::transform
