// Exactly-once hook of the ingest consumer (docs/exactly-once.md): before a worker consumes a
// partition the group assigned it, it claims the partition. The claim fences any previous owner
// (its writer can no longer commit what it consumed) and says which offsets are already written
// to the table, so the worker skips them instead of writing them twice. Without a gate the
// worker is at-least-once.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "absl/status/statusor.h"
#include "mcsink/ingest/ack_tracker.h"

namespace mcsink::ingest {

struct OffsetSpan {
  int64_t first = 0;  // inclusive
  int64_t last = 0;   // inclusive
  friend bool operator==(const OffsetSpan&, const OffsetSpan&) = default;
};

struct PartitionClaim {
  // Carried in every OffsetRange consumed under this claim (OffsetRange.epoch).
  int64_t epoch = 0;
  // Offsets already written to the table: sorted, disjoint, not adjacent.
  std::vector<OffsetSpan> written;
};

class PartitionGate {
 public:
  virtual ~PartitionGate() = default;
  // Claims `partitions` for the calling consumer, all at once. Called on the consumer thread
  // from the rebalance callback, before any record of them is consumed; must be thread-safe
  // (every worker of a process shares one gate). An error means nothing may be consumed from
  // these partitions yet: the worker retries.
  virtual absl::StatusOr<std::map<TopicPartition, PartitionClaim>> Claim(
      const std::vector<TopicPartition>& partitions) = 0;
};

}  // namespace mcsink::ingest
