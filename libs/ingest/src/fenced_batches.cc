#include "mcsink/ingest/fenced_batches.h"

namespace mcsink::ingest {

std::vector<v1::OffsetRange> OwnedRanges(
    const AckTracker& tracker, uint64_t batch_id, std::vector<v1::OffsetRange> ranges,
    const std::function<int64_t(const TopicPartition& tp)>& epoch_of) {
  std::vector<v1::OffsetRange> owned;
  for (v1::OffsetRange& r : ranges) {
    const TopicPartition tp{r.topic(), r.partition()};
    if (!tracker.Tracks(batch_id, tp)) continue;
    const int64_t epoch = epoch_of(tp);
    if (r.epoch() != 0 && r.epoch() != epoch) continue;
    r.set_epoch(epoch);
    owned.push_back(std::move(r));
  }
  return owned;
}

FencedBatches::Action FencedBatches::OnFenced(uint64_t batch_id, bool owned, bool with_others) {
  if (!owned) {
    // What the consumer still tracks of the batch no longer counts; a late acknowledgement of it
    // (its other failures handled) finds nothing to commit.
    batches_.erase(batch_id);
    return Action::kIgnore;
  }
  State& state = batches_[batch_id];
  // This answer settles one send; the other failures' handling is one more acknowledgement.
  state.outstanding += (with_others ? 1 : 0) - 1;
  if (state.given_up || state.resends >= max_resends_) {
    state.given_up = true;
    return Action::kGiveUp;
  }
  ++state.resends;
  ++state.outstanding;  // the answer to the re-send
  return Action::kResend;
}

bool FencedBatches::OnAck(uint64_t batch_id) {
  auto it = batches_.find(batch_id);
  if (it == batches_.end()) return true;
  State& state = it->second;
  if (--state.outstanding > 0 || state.given_up) return false;
  batches_.erase(it);
  return true;
}

void FencedBatches::Retain(const std::function<bool(uint64_t batch_id)>& tracked) {
  absl::erase_if(batches_, [&](const auto& entry) { return !tracked(entry.first); });
}

}  // namespace mcsink::ingest
