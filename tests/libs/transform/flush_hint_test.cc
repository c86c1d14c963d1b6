// Flow control through transform: a RecordBatch's flush_hint reaches the writer on its RowBatch,
// and transform sets the hint itself once its own stream to the writer is congested. The writer
// is an in-process test server; no record fails, so the error topic (whose broker address leads
// nowhere) is never used.
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/config/connector_config.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsink/testing/transform_test_support.h"
#include "mcsink/transform/transform_service.h"
#include "prometheus/registry.h"

namespace mcsink::transform {
namespace {

class TransformFlushHintTest : public ::testing::Test {
 protected:
  void Start(int64_t writer_unacked_bytes) {
    ASSERT_OK_AND_ASSIGN(writer_server_, GrpcServer::Start({.services = {{&writer_, "w"}}}));
    ASSERT_OK_AND_ASSIGN(v1::ConnectorConfig normalized,
                         config::Normalize(testing::TestConnector(v1::ConnectorConfig(), "hint",
                                                                  "orders", "127.0.0.1:1")));

    TransformServiceOptions options;
    options.connector = normalized;
    options.schema = testing::SeedTableSchema();
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
    // Unacknowledged batches are never acknowledged: nothing to wait for.
    if (client_ != nullptr) client_->Close(absl::ZeroDuration());
    if (service_ != nullptr) service_->Stop(absl::ZeroDuration());
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(1));
    if (writer_server_ != nullptr) writer_server_->Shutdown(absl::Seconds(1));
  }

  // One record of orders/0 at `offset`, with a 1000-byte value.
  static v1::RecordBatch Batch(uint64_t id, int64_t offset, bool hint) {
    return testing::MakeRecordBatch({.id = id,
                                     .topic = "orders",
                                     .connector = "hint",
                                     .first_offset = offset,
                                     .flush_hint = hint,
                                     .keys = true},
                                    {std::string(1000, 'v')});
  }

  // The flush_hint of each batch the writer received, in order, once there are `n`.
  std::vector<bool> WaitHints(size_t n) {
    writer_.WaitBatches(n);
    std::vector<bool> hints;
    for (const v1::RowBatch& b : writer_.batches()) hints.push_back(b.flush_hint());
    return hints;
  }

  testing::FakeWriter writer_;
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
  EXPECT_EQ(WaitHints(2), (std::vector<bool>{false, true}));
}

TEST_F(TransformFlushHintTest, HintWithoutRecordsStillReachesTheWriter) {
  // Given a transform (ingest sends a batch without records but with the hint before it waits
  // for acknowledgements, on revocation or drain)
  Start(64 << 20);
  const v1::RecordBatch hint_only = testing::MakeRecordBatch(
      {.id = 9, .topic = "orders", .connector = "hint", .flush_hint = true}, {});
  // When ingest sends a batch without the hint, then one without records that has it
  ASSERT_OK(client_->Send(Batch(1, 0, false)));
  ASSERT_OK(client_->Send(hint_only));
  // Then the writer receives the second too, with the hint, though it has no rows
  EXPECT_EQ(WaitHints(2), (std::vector<bool>{false, true}));
}

TEST_F(TransformFlushHintTest, TransformHintsWhenItsOwnStreamToTheWriterIsCongested) {
  // Given a writer that does not acknowledge, and a bound of a few rows on transform's stream
  writer_.SetAnswer(testing::FakeWriter::Answer::kNone);
  Start(5000);
  // When batches without the hint pile up unacknowledged (each RowBatch holds about 1 KB)
  for (uint64_t id = 1; id <= 4; ++id) {
    ASSERT_OK(client_->Send(Batch(id, static_cast<int64_t>(id), false)));
  }
  // Then the first ones go without the hint and, from half the bound on (after the third),
  // transform asks the writer to commit now
  EXPECT_EQ(WaitHints(4), (std::vector<bool>{false, false, false, true}));
}

}  // namespace
}  // namespace mcsink::transform
