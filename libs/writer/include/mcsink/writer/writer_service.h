// The writer's gRPC face: RowBatches from transform streams go into one TableWriter; its
// acknowledgements go back on the stream each batch came from, under that stream's batch id. A
// batch the TableWriter failed permanently is acknowledged with a BatchFailure (code
// WRITER_FAILED), so upstream dead-letters its records (or stops, by policy) instead of stalling.
//
// Exactly-once (docs/exactly-once.md): a batch marked `redelivery` (it may have been written
// before: re-sent after a reconnect, or after a FENCED answer) is first checked against the
// journal (CommitJournal::Unwritten). All of it written: acknowledged at once, nothing written.
// None: written as usual. Part of it: answered with one FENCED failure whose ranges are the
// unwritten offsets, which ingest sends again. A redelivered batch that this writer is still
// writing (its sender reconnected before the acknowledgement) is not written again: the new copy
// gets the first copy's answer. Other batches take no detour.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

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
    std::string copy_key;          // CopyKey, with a journal only
  };
  WriterService(WriterMetrics* metrics, CommitJournal* journal)
      : metrics_(metrics), journal_(journal) {}
  // Checks a redelivered batch against the journal and answers it when some of it is written
  // already; returns whether it was answered (else it is to be written).
  bool AnswerRedelivery(const std::shared_ptr<Upstream>& upstream, const v1::RowBatch& batch);
  // The batch's ranges with their epochs: equal for two copies of one batch.
  static std::string CopyKey(const v1::RowBatch& batch);
  // When a copy of the redelivered batch is still being written by this writer (its sender
  // reconnected before it was acknowledged), answers the new copy with that copy's outcome, and
  // returns true.
  bool TakeOver(const std::string& copy_key, const std::shared_ptr<Upstream>& upstream,
                const v1::RowBatch& batch);
  void OnAck(v1::Ack ack);
  void OnFailure(const WriteFailure& failure);
  // Removes and returns the origin of the writer's batch `id`, if it is still known.
  std::optional<Origin> TakeOrigin(uint64_t id);
  static void Reply(const Origin& origin, v1::Ack& ack);

  WriterMetrics* const metrics_;
  CommitJournal* const journal_;  // null: no journal (at-least-once)
  std::unique_ptr<TableWriter> writer_;
  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint64_t, Origin> origins_ ABSL_GUARDED_BY(mu_);
  // Batches being written, by CopyKey (with a journal only).
  absl::flat_hash_map<std::string, uint64_t> in_flight_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mcsink::writer
