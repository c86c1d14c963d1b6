// Which Kafka offsets may be committed: per partition, only the contiguous prefix of batches
// that came back acknowledged (architecture.md, Delivery 3). Batches are acknowledged by id, in
// any order; a batch may cover several partitions. Not thread-safe: owned by one consumer thread.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace mcsink::ingest {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  friend auto operator<=>(const TopicPartition&, const TopicPartition&) = default;
};

struct SentRange {
  TopicPartition tp;
  int64_t first_offset = 0;
  int64_t last_offset = 0;
};

class AckTracker {
 public:
  // Records a batch handed downstream. Within a partition, batches must be sent in offset order.
  void Sent(uint64_t batch_id, const std::vector<SentRange>& ranges, int64_t bytes);
  // Marks a batch durable downstream. Unknown ids (e.g. of revoked partitions) are ignored;
  // returns whether the id was known.
  bool Acked(uint64_t batch_id);

  // The offsets to commit (last acknowledged offset + 1 of each partition's acknowledged
  // prefix) for partitions whose prefix advanced since the previous call.
  std::map<TopicPartition, int64_t> TakeCommittable();

  // Never commits `tp` at or beyond `offset` (a record there failed under the "stop" policy
  // and must be read again after a restart).
  void Cap(const TopicPartition& tp, int64_t offset);

  // Forgets a partition (revoked): its pending batches no longer count, and late acks for them
  // are ignored for that partition.
  void Forget(const TopicPartition& tp);

  // Whether every batch sent for `tp` was acknowledged.
  bool Drained(const TopicPartition& tp) const;
  // Whether batch `batch_id` is pending for `tp`: sent, not acknowledged, `tp` not forgotten since.
  bool Tracks(uint64_t batch_id, const TopicPartition& tp) const;
  // Whether batch `batch_id` is pending for any partition.
  bool Tracks(uint64_t batch_id) const { return batches_.contains(batch_id); }
  int64_t in_flight_bytes() const { return in_flight_bytes_; }
  int64_t in_flight_batches() const { return static_cast<int64_t>(batches_.size()); }

 private:
  struct Pending {
    uint64_t batch_id;
    int64_t last_offset;
    bool acked = false;
  };
  struct Batch {
    std::vector<TopicPartition> partitions;
    int64_t bytes = 0;
  };
  void Advance(const TopicPartition& tp);

  std::map<TopicPartition, std::deque<Pending>> pending_;
  std::map<TopicPartition, int64_t> committable_;  // advanced, not yet taken
  std::map<TopicPartition, int64_t> caps_;
  absl::flat_hash_map<uint64_t, Batch> batches_;
  int64_t in_flight_bytes_ = 0;
};

}  // namespace mcsink::ingest
