// When a batch refused as FENCED (pipeline::kFenced) counts as acknowledged. The writer refuses a
// whole upload session when one of its partitions has a new owner, or when an earlier session of
// the journal already holds some of its batches, so a consumer that still owns the batch's
// partitions sends the refused ranges again under the same batch id (marked redelivery): the
// answer to that re-send is the answer to the original. An ack can also mix FENCED with other
// failures, which go to the dead-letter topic (or stop their partitions) and acknowledge the
// batch once more when done; the batch is acknowledged only when every part is. Not thread-safe:
// owned by one consumer thread.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "mcsink/ingest/ack_tracker.h"
#include "mcsink/v1/pipeline.pb.h"

namespace mcsink::ingest {

// Of `ranges` refused as FENCED in batch `batch_id`, those the consumer still owns: `tracker` still
// counts the batch for their partition (it was not revoked or restarted since the batch was sent,
// which forgets it), and their epoch is the partition's now (`epoch_of`). A range without an
// epoch (a stage that rebuilt it) is given that epoch.
std::vector<v1::OffsetRange> OwnedRanges(
    const AckTracker& tracker, uint64_t batch_id, std::vector<v1::OffsetRange> ranges,
    const std::function<int64_t(const TopicPartition& tp)>& epoch_of);

class FencedBatches {
 public:
  // A batch refused this many times in a row is not sent again (see kGiveUp).
  static constexpr int kDefaultMaxResends = 5;
  explicit FencedBatches(int max_resends = kDefaultMaxResends) : max_resends_(max_resends) {}

  enum class Action {
    // Send the fenced ranges again: their answer is this answer's.
    kResend,
    // The consumer no longer owns any fenced range (revoked, or restarted under a new epoch since
    // the batch was sent): whoever consumes them now reads them again. Nothing is re-sent.
    kIgnore,
    // Refused too often in a row: left unacknowledged, so its partitions commit nothing past it
    // until a restart or rebalance reads it again.
    kGiveUp,
  };

  // The answer to a send of batch `batch_id` named FENCED ranges. `owned`: the consumer still
  // tracks at least one of them under the epoch it consumed it with. `with_others`: the answer
  // also named failures of other codes, whose handling acknowledges the batch once more.
  Action OnFenced(uint64_t batch_id, bool owned, bool with_others);

  // An acknowledgement of `batch_id` came (an answer without failures, or its other failures are
  // handled): whether the batch is now acknowledged as a whole. True for batches never fenced.
  bool OnAck(uint64_t batch_id);

  // Forgets the batches for which `tracked` is false (their partitions were revoked or restarted).
  void Retain(const std::function<bool(uint64_t batch_id)>& tracked);

  size_t size() const { return batches_.size(); }

 private:
  struct State {
    int outstanding = 1;  // acknowledgements still to come: the answer to the first send
    int resends = 0;      // since the batch was last answered without failures
    bool given_up = false;
  };
  const int max_resends_;
  absl::flat_hash_map<uint64_t, State> batches_;
};

}  // namespace mcsink::ingest
