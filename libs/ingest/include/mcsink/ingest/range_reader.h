// Reads offset ranges of a Kafka partition back, for the records ingest sent downstream but keeps
// no copy of: the dead-letter topic (records no stage delivered) and batches re-sent after a
// FENCED answer. The records are not committed yet, so they are still in Kafka unless retention
// removed them. The reader only assign()s: it never joins the connector's group.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mcsink/kafka/config.h"
#include "mcsink/v1/pipeline.pb.h"

namespace RdKafka {
class KafkaConsumer;
}

namespace mcsink::ingest {

struct RangeReaderOptions {
  // Names the reader's client and (required by the client, never used to commit) group id, and
  // says in errors what the read was for, e.g. "for the dead-letter topic".
  std::string name;
  std::string purpose;
  kafka::Properties kafka_properties;  // bootstrap.servers and any security settings
  // How long reading one range back may take before Read fails.
  absl::Duration read_timeout = absl::Seconds(60);
};

class RangeReader {
 public:
  // Called with each record of a range, in offset order, built as the consumers build them
  // (ToKafkaRecord). The visitor may take the record (Swap it away); it is cleared before reuse.
  using Visit = std::function<void(v1::KafkaRecord& record)>;

  static absl::StatusOr<std::unique_ptr<RangeReader>> Create(RangeReaderOptions options);
  ~RangeReader();

  // Reads offsets [range.first_offset, range.last_offset] of the range's partition and visits
  // each record there. OK once the whole range was read; records no longer in Kafka (retention,
  // compaction) are logged and skipped, so fewer may be visited. Otherwise why not: Cancelled
  // after Cancel, DeadlineExceeded after read_timeout, Unavailable when the partition cannot be
  // assigned. One read at a time (not thread-safe, except Cancel).
  absl::Status Read(const v1::OffsetRange& range, const Visit& visit);

  // Thread-safe: the read in progress and every later one fail with Cancelled (for shutdown).
  void Cancel() { cancelled_.store(true); }

 private:
  explicit RangeReader(RangeReaderOptions options) : options_(std::move(options)) {}

  const RangeReaderOptions options_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace mcsink::ingest
