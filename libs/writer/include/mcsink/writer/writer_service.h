// The writer's gRPC face: RowBatches from transform streams go into one TableWriter; its
// acknowledgements go back on the stream each batch came from, under that stream's batch id. A
// batch the TableWriter failed permanently is acknowledged with a BatchFailure (code
// WRITER_FAILED), so upstream dead-letters its records (or stops, by policy) instead of stalling.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "mcsink/v1/pipeline.grpc.pb.h"
#include "mcsink/writer/table_writer.h"

namespace mcsink::writer {

class WriterService final : public v1::Writer::Service {
 public:
  // The writer is built here so its callbacks can reach the streams; `backend` and the deps'
  // members must outlive the service.
  static absl::StatusOr<std::unique_ptr<WriterService>> Create(TableWriterOptions options,
                                                               TunnelBackend* backend,
                                                               TableWriterDeps deps = {});

  grpc::Status Write(grpc::ServerContext* context,
                     grpc::ServerReaderWriter<v1::Ack, v1::RowBatch>* stream) override;

  // Commits what is buffered now (e.g. while upstream drains).
  void Flush();
  // Commits what is buffered and acknowledges it, until `deadline`.
  absl::Status Drain(absl::Time deadline);

 private:
  struct Upstream {
    absl::Mutex mu;
    grpc::ServerReaderWriter<v1::Ack, v1::RowBatch>* stream ABSL_GUARDED_BY(mu) = nullptr;
  };
  struct Origin {
    std::shared_ptr<Upstream> upstream;
    uint64_t batch_id = 0;         // as the upstream numbered it
    int64_t min_timestamp_ms = 0;  // RowBatch.min_timestamp_ms
  };
  explicit WriterService(WriterMetrics* metrics) : metrics_(metrics) {}
  void OnAck(v1::Ack ack);
  void OnFailure(const WriteFailure& failure);
  // Removes and returns the origin of the writer's batch `id`, if it is still known.
  std::optional<Origin> TakeOrigin(uint64_t id);
  static void Reply(const Origin& origin, v1::Ack& ack);

  WriterMetrics* const metrics_;
  std::unique_ptr<TableWriter> writer_;
  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint64_t, Origin> origins_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mcsink::writer
