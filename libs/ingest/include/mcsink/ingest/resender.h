// Sends batches refused as FENCED again (pipeline::kFenced, FencedBatches): on its own thread it
// reads the refused ranges back from Kafka (RangeReader) and sends them as a RecordBatch with the
// original batch id, the ranges with their epochs, and `redelivery` set, so the writer checks
// them against the journal first. One batch is built at a time and handed to the same stream as
// fresh batches, so re-sends count against the same in-flight bound.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mcsink/ingest/range_job_queue.h"
#include "mcsink/kafka/config.h"
#include "mcsink/v1/pipeline.pb.h"

namespace mcsink::ingest {

struct ResenderOptions {
  std::string connector;
  kafka::Properties kafka_properties;               // bootstrap.servers and any security settings
  absl::Duration read_timeout = absl::Seconds(60);  // per range read back
};

class Resender {
 public:
  // Hands a batch downstream (blocking while the stream is over its bound).
  using Send = std::function<absl::Status(v1::RecordBatch batch)>;
  // A batch could not be sent again (its ranges could not be read back, or the stream is
  // closed): it stays unacknowledged.
  using Failed = std::function<void(uint64_t batch_id, const absl::Status& status)>;

  static absl::StatusOr<std::unique_ptr<Resender>> Create(ResenderOptions options, Send send,
                                                          Failed failed);
  // Stops the read in progress; what is still queued is dropped (left unacknowledged).
  ~Resender();

  // Thread-safe; returns at once. `ranges` (of one topic, with their epochs) were refused in
  // batch `batch_id`.
  void Submit(uint64_t batch_id, std::vector<v1::OffsetRange> ranges);

 private:
  Resender(ResenderOptions options, Send send, Failed failed)
      : options_(std::move(options)), send_(std::move(send)), failed_(std::move(failed)) {}
  // Sends `batch` once its records were read back into it.
  absl::Status SendAgain(v1::RecordBatch batch);

  const ResenderOptions options_;
  const Send send_;
  const Failed failed_;
  std::unique_ptr<RangeJobQueue> queue_;
};

}  // namespace mcsink::ingest
