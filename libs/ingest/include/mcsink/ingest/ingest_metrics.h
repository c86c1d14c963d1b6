// The ingest service's Prometheus metrics. Components report through intention-named methods and
// never touch the registry. Names: mcsink_ingest_<thing>_<unit>; labels connector, topic,
// partition (bounded by the topic's partition count).
#pragma once

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace mcsink::ingest {

class IngestMetrics {
 public:
  IngestMetrics(prometheus::Registry& registry, const std::string& connector);

  void OnConsumed(int64_t records, int64_t bytes);
  void OnBatchSent(int64_t records, int64_t bytes);
  void OnCommitted(int64_t partitions);
  void OnCommitFailed();
  void OnPaused();
  void OnHeld(absl::Duration held);  // ConsumerOptions::backpressure_hold
  void OnLag(const std::string& topic, int32_t partition, int64_t lag);
  void OnPartitionStopped();
  // A record is in the dead-letter topic; `reason` is its failure code (a handful of values).
  void OnDeadLettered(const std::string& reason);
  // A request to dead-letter a batch's records failed: the batch stays unacknowledged.
  void OnDeadLetterFailed();
  // A batch refused as FENCED is sent again while its consumer owns it.
  void OnFencedResend();
  // A batch refused as FENCED is left unacknowledged: refused too often in a row, or its ranges
  // could not be sent again.
  void OnFencedGiveUp();
  void SetInFlight(int worker, int64_t batches, int64_t bytes);

 private:
  const std::string connector_;
  prometheus::Counter& records_;
  prometheus::Counter& bytes_;
  prometheus::Counter& batches_;
  prometheus::Counter& commits_;
  prometheus::Counter& commit_failures_;
  prometheus::Counter& pauses_;
  prometheus::Counter& holds_;
  prometheus::Counter& held_seconds_;
  prometheus::Counter& stopped_;
  prometheus::Family<prometheus::Counter>& dead_lettered_;
  prometheus::Counter& dead_letter_failures_;
  prometheus::Counter& fenced_resends_;
  prometheus::Counter& fenced_give_ups_;
  prometheus::Family<prometheus::Gauge>& lag_;
  prometheus::Family<prometheus::Gauge>& in_flight_batches_;
  prometheus::Family<prometheus::Gauge>& in_flight_bytes_;
};

}  // namespace mcsink::ingest
