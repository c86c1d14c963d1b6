// The exactly-once journal's Prometheus probe (docs/exactly-once.md, Operations): what recovery
// found and decided, and how often writers were fenced.
#pragma once

#include <cstdint>
#include <string>

#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace mcsink::journal {

class JournalMetrics {
 public:
  // Series labelled with `connector`; the registry must outlive the probe.
  JournalMetrics(prometheus::Registry& registry, const std::string& connector);

  // A claim of `partitions` source partitions, which found `written_spans` offset spans to skip.
  void OnClaimed(int64_t partitions, int64_t written_spans);
  // Recovery settled a pending upload session: committed (by it or before), or aborted.
  void OnRecovered(bool committed);
  // Batches written only in part (their other sessions were not committed): read again.
  void OnPartialBatches(int64_t batches);
  // A writer's commit refused because a newer owner claimed one of its partitions.
  void OnFenced();
  // A writer's commit refused because an earlier session holds some of its ranges (first
  // PENDING wins: another copy of the same records).
  void OnDuplicateRefused();
  // A redelivered batch checked against the journal: all of it already written (acknowledged
  // without writing), none of it (written), or part of it (the rest sent again).
  enum class Redelivery { kAlreadyWritten, kWritten, kPartial };
  void OnRedelivered(Redelivery outcome);

 private:
  prometheus::Counter& claimed_partitions_;
  prometheus::Counter& written_spans_;
  prometheus::Counter& recovered_committed_;
  prometheus::Counter& recovered_aborted_;
  prometheus::Counter& partial_batches_;
  prometheus::Counter& fenced_;
  prometheus::Counter& duplicates_refused_;
  prometheus::Counter& redelivered_written_already_;
  prometheus::Counter& redelivered_written_;
  prometheus::Counter& redelivered_partial_;
};

}  // namespace mcsink::journal
