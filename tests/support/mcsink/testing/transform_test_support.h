// Scaffolding shared by the transform tests (tests/libs/transform, tests/integration/transform_*):
// a fake Writer service, a RecordBatch builder, the connector config and table the tests convert
// for, and a TransformService serving one Convert stream in process. Header-only, for tests that
// link mcsink_transform, mcsink_config and mcsink_grpc_server (mcsink_test_support does not).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/maxcompute/record_decoder.h"
#include "mcsink/maxcompute/record_encoder.h"
#include "mcsink/testing/collected.h"
#include "mcsink/testing/seed_table.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsink/testing/test_connector.h"
#include "mcsink/transform/transform_service.h"
#include "prometheus/registry.h"

namespace mcsink::testing {

// A Writer that keeps every RowBatch it receives and answers each: with a plain Ack, with an Ack
// whose failure refuses the rows (as WriterService after a permanent Tunnel failure), or not at
// all (the batch stays unacknowledged, as behind a writer waiting for its commit).
class FakeWriter : public v1::Writer::Service {
 public:
  enum class Answer { kAck, kRefuse, kNone };

  grpc::Status Write(grpc::ServerContext*,
                     grpc::ServerReaderWriter<v1::Ack, v1::RowBatch>* stream) override {
    v1::RowBatch batch;
    while (stream->Read(&batch)) {
      Received(batch);
      batches_.Add(batch);
      Answer answer;
      {
        absl::MutexLock lock(&mu_);
        auto go = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !hold_; };
        mu_.Await(absl::Condition(&go));
        answer = answer_;
      }
      if (answer == Answer::kNone) continue;
      v1::Ack ack;
      ack.set_batch_id(batch.batch_id());
      if (answer == Answer::kRefuse) {
        v1::BatchFailure* f = ack.add_failures();
        f->set_code("WRITER_FAILED");
        f->set_message("writing partition 'pt=x' failed permanently");
      }
      stream->Write(ack);
    }
    return grpc::Status::OK;
  }

  void SetAnswer(Answer answer) {
    absl::MutexLock lock(&mu_);
    answer_ = answer;
  }
  // While held, the answer to the batch just received waits, and no further batch is read.
  void Hold(bool hold) {
    absl::MutexLock lock(&mu_);
    hold_ = hold;
  }
  // Whether `n` batches arrived within `timeout`.
  bool WaitBatches(size_t n, absl::Duration timeout = absl::Seconds(30)) {
    return batches_.Wait(n, timeout);
  }
  std::vector<v1::RowBatch> batches() { return batches_.all(); }

 protected:
  // Called on each RowBatch as it arrives, before it is kept and answered.
  virtual void Received(const v1::RowBatch&) {}

 private:
  Collected<v1::RowBatch> batches_;
  absl::Mutex mu_;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  Answer answer_ ABSL_GUARDED_BY(mu_) = Answer::kAck;
};

// The rows of `batches`, decoded with `schema`, in order.
inline std::vector<maxcompute::Row> DecodeRows(const std::vector<v1::RowBatch>& batches,
                                               const maxcompute::TableSchema& schema) {
  std::vector<maxcompute::Row> out;
  for (const v1::RowBatch& b : batches) {
    for (const v1::RowGroup& g : b.groups()) {
      std::string stream = g.encoded_rows();
      maxcompute::StreamTrailer trailer;
      for (uint32_t crc : g.row_crcs()) trailer.Add(crc);
      trailer.AppendTo(&stream);
      auto rows = maxcompute::DecodeRecordStream(schema, stream);
      EXPECT_OK(rows);
      if (rows.ok()) out.insert(out.end(), rows->begin(), rows->end());
    }
  }
  return out;
}

// What MakeRecordBatch builds: records of one partition from `first_offset` on, one per value.
struct BatchSpec {
  uint64_t id = 0;
  std::string topic;
  std::string connector;  // none when empty
  int32_t partition = 0;
  int64_t first_offset = 0;
  int64_t epoch = 0;
  bool flush_hint = false;
  bool keys = false;  // record keys "k<offset>"; none when false
  // The first record's timestamp (now when unset: the broker's time retention deletes a record
  // stamped years ago within minutes); record i's is that plus i * timestamp_step_ms.
  std::optional<int64_t> timestamp_ms;
  int64_t timestamp_step_ms = 0;
};

// A RecordBatch with one record per value and, when there are records, their offset range.
inline v1::RecordBatch MakeRecordBatch(const BatchSpec& spec,
                                       const std::vector<std::string>& values) {
  v1::RecordBatch b;
  b.set_batch_id(spec.id);
  b.set_topic(spec.topic);
  if (!spec.connector.empty()) b.set_connector(spec.connector);
  b.set_flush_hint(spec.flush_hint);
  if (values.empty()) return b;
  v1::OffsetRange* r = b.add_ranges();
  r->set_topic(spec.topic);
  r->set_partition(spec.partition);
  r->set_first_offset(spec.first_offset);
  r->set_last_offset(spec.first_offset + static_cast<int64_t>(values.size()) - 1);
  r->set_epoch(spec.epoch);
  const int64_t first_ms = spec.timestamp_ms.value_or(absl::ToUnixMillis(absl::Now()));
  for (size_t i = 0; i < values.size(); ++i) {
    const int64_t offset = spec.first_offset + static_cast<int64_t>(i);
    v1::KafkaRecord* rec = b.add_records();
    rec->set_partition(spec.partition);
    rec->set_offset(offset);
    rec->set_timestamp_ms(first_ms + static_cast<int64_t>(i) * spec.timestamp_step_ms);
    rec->set_timestamp_type(v1::KafkaRecord::TIMESTAMP_CREATE_TIME);
    if (spec.keys) rec->set_key(absl::StrCat("k", offset));
    rec->set_value(values[i]);
  }
  return b;
}

// A TransformService serving in process, and one Convert stream to it. Destroying it ends the
// stream, then stops the service.
struct TransformUnderTest {
  std::unique_ptr<transform::TransformService> service;
  std::unique_ptr<GrpcServer> server;
  std::unique_ptr<v1::Transform::Stub> stub;
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderWriter<v1::RecordBatch, v1::Ack>> stream;

  static absl::StatusOr<std::unique_ptr<TransformUnderTest>> Start(
      const transform::TransformServiceOptions& options, prometheus::Registry& registry) {
    auto t = std::make_unique<TransformUnderTest>();
    auto service = transform::TransformService::Create(options, registry);
    if (!service.ok()) return service.status();
    t->service = std::move(*service);
    auto server = GrpcServer::Start({.services = {{t->service.get(), "t"}}});
    if (!server.ok()) return server.status();
    t->server = std::move(*server);
    t->stub = v1::Transform::NewStub(t->server->InProcessChannel());
    t->stream = t->stub->Convert(&t->context);
    return t;
  }

  // Sends `batch` and returns its acknowledgement.
  v1::Ack Convert(const v1::RecordBatch& batch) {
    EXPECT_TRUE(stream->Write(batch));
    v1::Ack ack;
    EXPECT_TRUE(stream->Read(&ack));
    EXPECT_EQ(ack.batch_id(), batch.batch_id());
    return ack;
  }

  ~TransformUnderTest() {
    if (stream != nullptr) {
      stream->WritesDone();
      v1::Ack ignored;
      while (stream->Read(&ignored)) {
      }
      stream->Finish();
    }
    if (service != nullptr) service->Stop(absl::Seconds(5));
    if (server != nullptr) server->Shutdown(absl::Seconds(1));
  }
};

}  // namespace mcsink::testing
