#include "mcsink/pipeline/stream_client.h"

#include <set>

#include "gtest/gtest.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsink/v1/pipeline.grpc.pb.h"

namespace mcsink::pipeline {
namespace {

// A writer that acknowledges each batch unless holding, and records what it received.
class TestWriter : public v1::Writer::Service {
 public:
  grpc::Status Write(grpc::ServerContext*,
                     grpc::ServerReaderWriter<v1::Ack, v1::RowBatch>* stream) override {
    v1::RowBatch batch;
    while (stream->Read(&batch)) {
      {
        absl::MutexLock lock(&mu_);
        received_.push_back(batch.batch_id());
        auto go = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !hold_ || stop_; };
        mu_.Await(absl::Condition(&go));
        if (stop_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "stopping");
      }
      v1::Ack ack;
      ack.set_batch_id(batch.batch_id());
      if (!stream->Write(ack)) break;
    }
    return grpc::Status::OK;
  }
  void Hold(bool hold) {
    absl::MutexLock lock(&mu_);
    hold_ = hold;
  }
  void Stop() {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  size_t WaitReceived(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return received_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
    return received_.size();
  }
  std::vector<uint64_t> received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }

 private:
  absl::Mutex mu_;
  std::vector<uint64_t> received_ ABSL_GUARDED_BY(mu_);
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
};

using Client = StreamClient<v1::RowBatch, v1::Ack>;

// Acknowledged batch ids, as the client reports them.
class AckLog {
 public:
  void Add(uint64_t id) {
    absl::MutexLock lock(&mu_);
    ids_.insert(id);
  }
  bool WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return ids_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(60));
  }
  size_t size() {
    absl::MutexLock lock(&mu_);
    return ids_.size();
  }

 private:
  absl::Mutex mu_;
  std::set<uint64_t> ids_ ABSL_GUARDED_BY(mu_);
};

std::unique_ptr<Client> Connect(const std::string& address, AckLog* acks,
                                int64_t max_unacked = 64 << 20) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  std::shared_ptr<v1::Writer::Stub> stub = v1::Writer::NewStub(channel);
  StreamClientOptions options;
  options.name = "test->writer";
  options.max_unacked_bytes = max_unacked;
  options.initial_backoff = absl::Milliseconds(20);
  options.max_backoff = absl::Milliseconds(200);
  return std::make_unique<Client>(
      options, [stub](grpc::ClientContext* ctx) { return stub->Write(ctx); },
      [acks](const v1::Ack& ack) { acks->Add(ack.batch_id()); });
}

v1::RowBatch Batch(uint64_t id, size_t payload = 100) {
  v1::RowBatch b;
  b.set_batch_id(id);
  b.add_groups()->set_encoded_rows(std::string(payload, 'r'));
  return b;
}

TEST(StreamClient, EveryBatchIsAcknowledgedAndNothingStaysBuffered) {
  TestWriter writer;
  ASSERT_OK_AND_ASSIGN(auto server, GrpcServer::Start({.services = {{&writer, "w"}}}));
  AckLog acks;
  auto client = Connect("127.0.0.1:" + std::to_string(server->port()), &acks);
  for (uint64_t id = 1; id <= 1000; ++id) ASSERT_OK(client->Send(Batch(id)));
  EXPECT_TRUE(acks.WaitFor(1000));
  client->Close(absl::Seconds(5));
  EXPECT_EQ(client->unacked_bytes(), 0);
  EXPECT_EQ(writer.received().size(), 1000u) << "no resends without a failure";
  EXPECT_EQ(client->reconnects(), 0);
}

TEST(StreamClient, SendBlocksWhileTooMuchIsUnacknowledged) {
  TestWriter writer;
  writer.Hold(true);
  ASSERT_OK_AND_ASSIGN(auto server, GrpcServer::Start({.services = {{&writer, "w"}}}));
  AckLog acks;
  auto client = Connect("127.0.0.1:" + std::to_string(server->port()), &acks, 1000);

  // Batches of ~100 bytes: the 11th Send finds 1000+ bytes unacknowledged and must wait.
  for (uint64_t id = 1; id <= 10; ++id) ASSERT_OK(client->Send(Batch(id)));
  std::atomic<bool> sent{false};
  std::thread sender([&] {
    EXPECT_OK(client->Send(Batch(11)));
    sent = true;
  });
  ASSERT_GE(writer.WaitReceived(1), 1u);
  EXPECT_FALSE(sent.load()) << "Send returned while over the bound";
  EXPECT_GE(client->unacked_bytes(), 1000);

  writer.Hold(false);
  sender.join();
  EXPECT_TRUE(sent.load());
  EXPECT_TRUE(acks.WaitFor(11));
  client->Close(absl::Seconds(5));
}

TEST(StreamClient, CongestedOnceHalfTheBoundWaitsForAcknowledgements) {
  // Given a server that holds acknowledgements and a bound of 10 batches
  TestWriter writer;
  writer.Hold(true);
  ASSERT_OK_AND_ASSIGN(auto server, GrpcServer::Start({.services = {{&writer, "w"}}}));
  AckLog acks;
  const int64_t batch_size = static_cast<int64_t>(Batch(1, 1000).ByteSizeLong());
  auto client = Connect("127.0.0.1:" + std::to_string(server->port()), &acks, 10 * batch_size);
  // When fewer than half of that are unacknowledged, the sender is not held back
  for (uint64_t id = 1; id <= 4; ++id) ASSERT_OK(client->Send(Batch(id, 1000)));
  EXPECT_FALSE(client->congested());
  // Then at half it is congested (downstream should commit now)
  ASSERT_OK(client->Send(Batch(5, 1000)));
  EXPECT_TRUE(client->congested());
  // And once the acknowledgements come back, it is not any more
  writer.Hold(false);
  ASSERT_TRUE(acks.WaitFor(5));
  EXPECT_FALSE(client->congested());
  client->Close(absl::Seconds(5));
}

TEST(StreamClient, ResendsUnacknowledgedBatchesToARestartedServer) {
  // Given a server that stops acknowledging and goes away mid-stream...
  auto first = std::make_unique<TestWriter>();
  ASSERT_OK_AND_ASSIGN(auto server, GrpcServer::Start({.services = {{first.get(), "w"}}}));
  const std::string address = "127.0.0.1:" + std::to_string(server->port());
  AckLog acks;
  auto client = Connect(address, &acks);
  for (uint64_t id = 1; id <= 100; ++id) ASSERT_OK(client->Send(Batch(id)));
  ASSERT_TRUE(acks.WaitFor(100));
  first->Hold(true);
  for (uint64_t id = 101; id <= 200; ++id) ASSERT_OK(client->Send(Batch(id)));
  ASSERT_GE(first->WaitReceived(101), 101u);
  first->Stop();
  server->Shutdown(absl::ZeroDuration());
  server.reset();

  // ...when a new server comes up on the same address,
  for (uint64_t id = 201; id <= 300; ++id) ASSERT_OK(client->Send(Batch(id)));
  TestWriter second;
  ASSERT_OK_AND_ASSIGN(auto restarted,
                       GrpcServer::Start({.address = address, .services = {{&second, "w"}}}));

  // then every batch ends up acknowledged, the unacknowledged ones sent again in order.
  EXPECT_TRUE(acks.WaitFor(300));
  EXPECT_GE(client->reconnects(), 1);
  const std::vector<uint64_t> resent = second.received();
  ASSERT_GE(resent.size(), 200u);
  EXPECT_EQ(resent.front(), 101u) << "the first unacknowledged batch comes first";
  EXPECT_TRUE(std::is_sorted(resent.begin(), resent.end()));
  client->Close(absl::Seconds(5));
  EXPECT_EQ(client->unacked_bytes(), 0);
}

TEST(StreamClient, CloseWithoutAServerReturnsAndRefusesFurtherSends) {
  AckLog acks;
  auto client = Connect("127.0.0.1:1", &acks);
  ASSERT_OK(client->Send(Batch(1)));
  client->Close(absl::Milliseconds(100));
  EXPECT_EQ(client->Send(Batch(2)).code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(acks.size(), 0u);
}

}  // namespace
}  // namespace mcsink::pipeline
