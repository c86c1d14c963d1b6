#include "mcsink/ingest/ack_tracker.h"

#include <algorithm>

namespace mcsink::ingest {

void AckTracker::Sent(uint64_t batch_id, const std::vector<SentRange>& ranges, int64_t bytes) {
  Batch& batch = batches_[batch_id];
  batch.bytes = bytes;
  in_flight_bytes_ += bytes;
  for (const SentRange& r : ranges) {
    pending_[r.tp].push_back({batch_id, r.last_offset});
    batch.partitions.push_back(r.tp);
  }
}

bool AckTracker::Acked(uint64_t batch_id) {
  auto it = batches_.find(batch_id);
  if (it == batches_.end()) return false;
  const Batch batch = std::move(it->second);
  batches_.erase(it);
  in_flight_bytes_ -= batch.bytes;
  for (const TopicPartition& tp : batch.partitions) {
    auto queue = pending_.find(tp);
    if (queue == pending_.end()) continue;  // forgotten
    for (Pending& p : queue->second) {
      if (p.batch_id == batch_id) p.acked = true;
    }
    Advance(tp);
  }
  return true;
}

void AckTracker::Advance(const TopicPartition& tp) {
  std::deque<Pending>& queue = pending_[tp];
  bool advanced = false;
  int64_t next = 0;
  while (!queue.empty() && queue.front().acked) {
    next = queue.front().last_offset + 1;
    advanced = true;
    queue.pop_front();
  }
  if (!advanced) return;
  if (auto cap = caps_.find(tp); cap != caps_.end()) next = std::min(next, cap->second);
  committable_[tp] = next;
}

void AckTracker::Cap(const TopicPartition& tp, int64_t offset) {
  auto [it, fresh] = caps_.try_emplace(tp, offset);
  if (!fresh) it->second = std::min(it->second, offset);
  if (auto c = committable_.find(tp); c != committable_.end()) {
    c->second = std::min(c->second, it->second);
  }
}

std::map<TopicPartition, int64_t> AckTracker::TakeCommittable() {
  std::map<TopicPartition, int64_t> out;
  out.swap(committable_);
  return out;
}

void AckTracker::Forget(const TopicPartition& tp) {
  caps_.erase(tp);
  auto queue = pending_.find(tp);
  if (queue == pending_.end()) return;
  for (const Pending& p : queue->second) {
    auto batch = batches_.find(p.batch_id);
    if (batch == batches_.end()) continue;
    auto& parts = batch->second.partitions;
    parts.erase(std::remove(parts.begin(), parts.end(), tp), parts.end());
    // A batch left with no partition to track no longer holds anything in flight.
    if (parts.empty()) {
      in_flight_bytes_ -= batch->second.bytes;
      batches_.erase(batch);
    }
  }
  pending_.erase(queue);
  committable_.erase(tp);
  caps_.erase(tp);
}

bool AckTracker::Drained(const TopicPartition& tp) const {
  auto queue = pending_.find(tp);
  return queue == pending_.end() || queue->second.empty();
}

bool AckTracker::Tracks(uint64_t batch_id, const TopicPartition& tp) const {
  auto batch = batches_.find(batch_id);
  if (batch == batches_.end()) return false;
  const std::vector<TopicPartition>& parts = batch->second.partitions;
  return std::find(parts.begin(), parts.end(), tp) != parts.end();
}

}  // namespace mcsink::ingest
