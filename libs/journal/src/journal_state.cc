#include "mcsink/journal/journal_state.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "mcsink/common/stable_partition.h"
#include "mcsink/common/status.h"

namespace mcsink::journal {

namespace {

constexpr char kFencePrefix[] = "fence-";
constexpr char kPendingPrefix[] = "pending-";
constexpr char kDonePrefix[] = "done-";

TopicPartition TpOf(const JournalRange& r) { return {r.topic(), r.partition()}; }

}  // namespace

std::string FenceKey(const std::string& topic, int32_t partition) {
  return absl::StrCat(kFencePrefix, topic, "-", partition);
}

std::string SessionKey(const SessionEntry& session) {
  return absl::StrCat(session.state() == SessionEntry::DONE ? kDonePrefix : kPendingPrefix,
                      session.upload_id());
}

int32_t JournalPartition(const std::string& connector, int partition_count) {
  return StablePartition(connector, partition_count);
}

std::string EncodeEntry(const JournalEntry& entry) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  // Cannot fail for a message without Any fields.
  (void)google::protobuf::util::MessageToJsonString(entry, &out, options);
  return out;
}

absl::StatusOr<JournalEntry> DecodeEntry(const std::string& value) {
  JournalEntry entry;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  const auto status = google::protobuf::util::JsonStringToMessage(value, &entry, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a journal entry (", status.ToString(), "): ", value.substr(0, 200)));
  }
  if (entry.entry_case() == JournalEntry::ENTRY_NOT_SET) {
    return absl::InvalidArgumentError(
        absl::StrCat("journal entry has neither fence nor session: ", value.substr(0, 200)));
  }
  return entry;
}

SessionEntry PendingEntry(const writer::CommitRecord& record, const std::string& writer_id) {
  SessionEntry s;
  s.set_state(SessionEntry::PENDING);
  s.set_table(record.session.table);
  s.set_partition(record.session.partition);
  s.set_upload_id(record.session.upload_id);
  s.mutable_block_ids()->Add(record.block_ids.begin(), record.block_ids.end());
  for (const writer::CommitBatch& b : record.batches) {
    JournalBatch* batch = s.add_batches();
    batch->set_groups(b.groups);
    batch->set_total_groups(b.total_groups);
    batch->set_origin(absl::StrCat(writer_id, "#", b.batch_id));
    for (const v1::OffsetRange& r : b.ranges) {
      JournalRange* range = batch->add_ranges();
      range->set_topic(r.topic());
      range->set_partition(r.partition());
      range->set_first_offset(r.first_offset());
      range->set_last_offset(r.last_offset());
      range->set_epoch(r.epoch());
    }
  }
  s.set_writer(writer_id);
  return s;
}

void FenceBook::Apply(int64_t offset, const FenceEntry& fence) {
  epochs_[{fence.topic(), fence.partition()}] = offset + 1;
}

int64_t FenceBook::EpochOf(const TopicPartition& tp) const {
  auto it = epochs_.find(tp);
  return it == epochs_.end() ? 0 : it->second;
}

absl::Status FenceBook::Check(const SessionEntry& session) const {
  for (const JournalBatch& batch : session.batches()) {
    for (const JournalRange& r : batch.ranges()) {
      const int64_t current = EpochOf(TpOf(r));
      if (current == r.epoch()) continue;
      return writer::FencedError(absl::StrCat(
          "upload session ", session.upload_id(), " is fenced: ", r.topic(), "[", r.partition(),
          "] offsets ", r.first_offset(), "..", r.last_offset(), " were consumed under epoch ",
          r.epoch(), " but the partition has since been claimed by another ingest owner (epoch ",
          current, "), which reads them again; this session is not committed"));
    }
  }
  return absl::OkStatus();
}

RecordKind KindOfKey(const std::string& key) {
  if (absl::StartsWith(key, kFencePrefix)) return RecordKind::kFence;
  if (absl::StartsWith(key, kPendingPrefix)) return RecordKind::kPending;
  if (absl::StartsWith(key, kDonePrefix)) return RecordKind::kDone;
  return RecordKind::kOther;
}

std::string OriginOf(const JournalBatch& batch) {
  if (!batch.origin().empty()) return batch.origin();
  // Records of older versions: one consumer under one epoch never sends the same offsets twice,
  // so the ranges with their epochs name the batch (its copies are not told apart).
  std::string id = "ranges:";
  for (const JournalRange& r : batch.ranges()) {
    absl::StrAppend(&id, r.topic(), "/", r.partition(), "/", r.first_offset(), "/", r.last_offset(),
                    "/", r.epoch(), ";");
  }
  return id;
}

// ---- JournalIndex ----

absl::StatusOr<JournalIndex::Applied> JournalIndex::Apply(int64_t offset, const std::string& key,
                                                          const std::string* value) {
  Applied applied;
  const RecordKind kind = KindOfKey(key);
  if (kind == RecordKind::kOther) return applied;
  if (value == nullptr) {
    // A pruned PENDING is settled. A pruned DONE's spans stay: its offsets were written, and
    // only an offset reset writes them again, under a new owner's epoch.
    if (kind == RecordKind::kPending) OnAborted(key.substr(sizeof(kPendingPrefix) - 1));
    return applied;
  }
  absl::StatusOr<JournalEntry> entry = DecodeEntry(*value);
  if (!entry.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("journal record at offset ", offset, " (key '",
                                                   key, "'): ", entry.status().message()));
  }
  if (entry->has_fence()) {
    fences_.Apply(offset, entry->fence());
    OnFence({entry->fence().topic(), entry->fence().partition()});
    return applied;
  }
  SessionEntry& s = *entry->mutable_session();
  switch (s.state()) {
    case SessionEntry::PENDING:
      applied.verdict = fences_.Check(s);
      if (applied.verdict.ok()) {
        applied.verdict = FirstPendingWins(s);
        applied.duplicate = !applied.verdict.ok();
      }
      if (applied.verdict.ok()) OnPending(offset, s);
      break;
    case SessionEntry::DONE:
      OnDone(s);
      break;
    default:  // ABORTED
      OnAborted(s.upload_id());
      break;
  }
  applied.session = std::move(s);
  return applied;
}

const JournalIndex::EpochRanges* JournalIndex::RangesOf(const TopicPartition& tp,
                                                        int64_t epoch) const {
  auto by_tp = ranges_.find(tp);
  if (by_tp == ranges_.end()) return nullptr;
  auto it = by_tp->second.find(epoch);
  return it == by_tp->second.end() ? nullptr : &it->second;
}

template <typename Fn>
void JournalIndex::ForEachOpen(const TopicPartition& tp, int64_t epoch, int64_t first, int64_t last,
                               Fn fn) const {
  const EpochRanges* er = RangesOf(tp, epoch);
  if (er == nullptr) return;
  for (auto it = er->open.lower_bound(first - er->max_open_length);
       it != er->open.end() && it->first <= last; ++it) {
    if (it->second.last < first) continue;
    auto copy = copies_.find(it->second.origin);
    if (copy != copies_.end()) fn(copy->first, copy->second);
  }
}

absl::Status JournalIndex::FirstPendingWins(const SessionEntry& session) const {
  for (const JournalBatch& b : session.batches()) {
    const std::string origin = OriginOf(b);
    for (const JournalRange& r : b.ranges()) {
      const TopicPartition tp = TpOf(r);
      std::string holder;
      if (const EpochRanges* er = RangesOf(tp, r.epoch()); er != nullptr) {
        auto it = er->done.upper_bound(r.last_offset());
        if (it != er->done.begin() && std::prev(it)->second >= r.first_offset()) {
          holder = "a committed session";
        }
      }
      if (holder.empty()) {
        ForEachOpen(tp, r.epoch(), r.first_offset(), r.last_offset(),
                    [&](const std::string& other, const Copy& copy) {
                      if (holder.empty() && other != origin && !copy.pending.empty()) {
                        holder = absl::StrCat("pending upload session ", *copy.pending.begin());
                      }
                    });
      }
      if (holder.empty()) continue;
      return writer::FencedError(absl::StrCat(
          "upload session ", session.upload_id(), " is refused: ", r.topic(), "[", r.partition(),
          "] offsets ", r.first_offset(), "..", r.last_offset(), " (epoch ", r.epoch(),
          ") are already held by an earlier session of the journal (", holder,
          "), another copy of the same records; this session is not committed and its batches "
          "are checked against the journal when they are sent again"));
    }
  }
  return absl::OkStatus();
}

bool JournalIndex::Current(const JournalBatch& batch) const {
  return std::all_of(batch.ranges().begin(), batch.ranges().end(),
                     [&](const JournalRange& r) { return fences_.EpochOf(TpOf(r)) == r.epoch(); });
}

JournalIndex::Copy& JournalIndex::CopyOf(const JournalBatch& batch) {
  const std::string origin = OriginOf(batch);
  auto [it, inserted] = copies_.try_emplace(origin);
  Copy& copy = it->second;
  if (inserted) {
    copy.ranges.assign(batch.ranges().begin(), batch.ranges().end());
    copy.total_groups = std::max(1, batch.total_groups());
    for (const JournalRange& r : copy.ranges) {
      EpochRanges& er = ranges_[TpOf(r)][r.epoch()];
      er.open.emplace(r.first_offset(), OpenRange{r.last_offset(), origin});
      er.max_open_length = std::max(er.max_open_length, r.last_offset() - r.first_offset());
    }
  }
  return copy;
}

void JournalIndex::EraseCopy(const std::string& origin) {
  auto it = copies_.find(origin);
  if (it == copies_.end()) return;
  for (const JournalRange& r : it->second.ranges) {
    auto by_tp = ranges_.find(TpOf(r));
    if (by_tp == ranges_.end()) continue;
    auto er = by_tp->second.find(r.epoch());
    if (er == by_tp->second.end()) continue;
    auto [from, to] = er->second.open.equal_range(r.first_offset());
    for (auto o = from; o != to; ++o) {
      if (o->second.origin == origin && o->second.last == r.last_offset()) {
        er->second.open.erase(o);
        break;
      }
    }
  }
  copies_.erase(it);
}

void JournalIndex::AddDone(const JournalRange& range) {
  std::map<int64_t, int64_t>& done = ranges_[TpOf(range)][range.epoch()].done;
  int64_t first = range.first_offset();
  int64_t last = range.last_offset();
  auto it = done.upper_bound(first);
  if (it != done.begin() && std::prev(it)->second + 1 >= first) {
    --it;
    first = it->first;
    last = std::max(last, it->second);
    it = done.erase(it);
  }
  while (it != done.end() && it->first <= last + 1) {
    last = std::max(last, it->second);
    it = done.erase(it);
  }
  done[first] = last;
  if (done.size() > kMaxSpans) done.erase(done.begin());
}

void JournalIndex::OnFence(const TopicPartition& tp) {
  // Sessions pending under the old epoch are finished by the new owner's recovery; no later
  // PENDING of their batches can be valid (they carry the old epoch), so nothing here needs them.
  std::vector<std::string> stale;
  for (const auto& [id, s] : pending_) {
    if (Touches(s, tp)) stale.push_back(id);
  }
  for (const std::string& id : stale) OnAborted(id);
  auto by_tp = ranges_.find(tp);
  if (by_tp == ranges_.end()) return;
  const int64_t current = fences_.EpochOf(tp);
  for (auto er = by_tp->second.begin(); er != by_tp->second.end() && er->first < current;) {
    std::vector<std::string> origins;
    for (const auto& [first, open] : er->second.open) origins.push_back(open.origin);
    for (const std::string& origin : origins) EraseCopy(origin);
    er = by_tp->second.erase(er);
  }
}

void JournalIndex::OnPending(int64_t, const SessionEntry& session) {
  // A repeated PENDING of a session (its writer retried) replaces the earlier one.
  OnAborted(session.upload_id());
  pending_[session.upload_id()] = session;
  for (const JournalBatch& b : session.batches()) CopyOf(b).pending.insert(session.upload_id());
}

void JournalIndex::OnDone(const SessionEntry& session) {
  pending_.erase(session.upload_id());
  for (const JournalBatch& b : session.batches()) {
    if (!Current(b)) {
      // Finished by a recovery after a newer FENCE: its epoch is no longer indexed.
      if (auto it = copies_.find(OriginOf(b)); it != copies_.end()) {
        EraseCopy(it->first);
      }
      continue;
    }
    Copy& copy = CopyOf(b);
    copy.pending.erase(session.upload_id());
    copy.done[session.upload_id()] = b.groups();
    int groups = 0;
    for (const auto& [id, n] : copy.done) groups += n;
    if (groups < copy.total_groups) continue;
    for (const JournalRange& r : copy.ranges) AddDone(r);
    EraseCopy(OriginOf(b));
  }
}

void JournalIndex::OnAborted(const std::string& upload_id) {
  auto it = pending_.find(upload_id);
  if (it == pending_.end()) return;
  for (const JournalBatch& b : it->second.batches()) {
    auto copy = copies_.find(OriginOf(b));
    if (copy == copies_.end()) continue;
    copy->second.pending.erase(upload_id);
    if (copy->second.pending.empty() && copy->second.done.empty()) EraseCopy(copy->first);
  }
  pending_.erase(it);
}

std::vector<SessionEntry> JournalIndex::PendingOverlapping(
    const std::vector<v1::OffsetRange>& ranges) const {
  std::set<std::string> ids;
  for (const v1::OffsetRange& r : ranges) {
    ForEachOpen({r.topic(), r.partition()}, r.epoch(), r.first_offset(), r.last_offset(),
                [&](const std::string&, const Copy& copy) {
                  ids.insert(copy.pending.begin(), copy.pending.end());
                });
  }
  std::vector<SessionEntry> sessions;
  for (const std::string& id : ids) {
    if (auto it = pending_.find(id); it != pending_.end()) sessions.push_back(it->second);
  }
  return sessions;
}

std::vector<v1::OffsetRange> JournalIndex::Unwritten(
    const std::vector<v1::OffsetRange>& ranges) const {
  std::vector<v1::OffsetRange> out;
  auto emit = [&out](const v1::OffsetRange& r, int64_t first, int64_t last) {
    v1::OffsetRange& piece = out.emplace_back(r);
    piece.set_first_offset(first);
    piece.set_last_offset(last);
  };
  for (const v1::OffsetRange& r : ranges) {
    int64_t cursor = r.first_offset();
    if (const EpochRanges* er = RangesOf({r.topic(), r.partition()}, r.epoch()); er != nullptr) {
      auto it = er->done.upper_bound(cursor);
      if (it != er->done.begin()) --it;
      for (; it != er->done.end() && it->first <= r.last_offset() && cursor <= r.last_offset();
           ++it) {
        if (it->second < cursor) continue;
        if (it->first > cursor) emit(r, cursor, it->first - 1);
        cursor = it->second + 1;
      }
    }
    if (cursor <= r.last_offset()) emit(r, cursor, r.last_offset());
  }
  return out;
}

// ---- JournalReplay ----

absl::Status JournalReplay::Apply(int64_t offset, const std::string& key,
                                  const std::string* value) {
  MCSINK_ASSIGN_OR_RETURN(JournalIndex::Applied applied, index_.Apply(offset, key, value));
  if (value == nullptr) {
    if (KindOfKey(key) == RecordKind::kDone) {
      sessions_.erase(key.substr(sizeof(kDonePrefix) - 1));
    } else if (KindOfKey(key) == RecordKind::kPending) {
      auto it = sessions_.find(key.substr(sizeof(kPendingPrefix) - 1));
      if (it != sessions_.end() && it->second.entry.state() != SessionEntry::DONE) {
        sessions_.erase(it);
      }
    }
    return absl::OkStatus();
  }
  if (!applied.session.has_value()) return absl::OkStatus();
  SessionEntry& s = *applied.session;
  // DONE is final: a late record of a stale writer (a repeated PENDING, written after the
  // session was finished by a recovery) must not reopen it.
  if (auto it = sessions_.find(s.upload_id());
      it != sessions_.end() && it->second.entry.state() == SessionEntry::DONE) {
    return absl::OkStatus();
  }
  switch (s.state()) {
    case SessionEntry::PENDING: {
      const bool valid = applied.verdict.ok();
      const std::string id = s.upload_id();
      sessions_[id] = Session{std::move(s), valid, offset};
      break;
    }
    case SessionEntry::DONE: {
      // Only a valid PENDING is ever committed, so a DONE is valid.
      const std::string id = s.upload_id();
      sessions_[id] = Session{std::move(s), true, offset};
      break;
    }
    default:  // ABORTED: never committed, nothing to resolve
      sessions_.erase(s.upload_id());
      break;
  }
  return absl::OkStatus();
}

std::vector<OffsetSpan> WrittenSpans(const std::vector<const SessionEntry*>& done,
                                     const TopicPartition& tp, int64_t* partial) {
  struct Count {
    int groups = 0;
    int total = 0;
    std::vector<OffsetSpan> spans;  // of tp
  };
  std::map<std::string, Count> batches;
  for (const SessionEntry* s : done) {
    for (const JournalBatch& b : s->batches()) {
      // Per copy: halves of two copies of a batch do not make it whole.
      const std::string id = OriginOf(b);
      std::vector<OffsetSpan> spans;
      for (const JournalRange& r : b.ranges()) {
        if (TpOf(r) == tp) spans.push_back({r.first_offset(), r.last_offset()});
      }
      if (spans.empty()) continue;
      Count& c = batches[id];
      c.groups += b.groups();
      c.total = std::max(c.total, b.total_groups());
      c.spans = std::move(spans);
    }
  }
  std::vector<OffsetSpan> spans;
  int64_t partial_count = 0;
  for (auto& [id, c] : batches) {
    if (c.groups < c.total) {
      ++partial_count;
      continue;
    }
    spans.insert(spans.end(), c.spans.begin(), c.spans.end());
  }
  if (partial != nullptr) *partial = partial_count;
  // Sorted, merged when overlapping or adjacent.
  std::sort(spans.begin(), spans.end(),
            [](const OffsetSpan& a, const OffsetSpan& b) { return a.first < b.first; });
  std::vector<OffsetSpan> merged;
  for (const OffsetSpan& s : spans) {
    if (!merged.empty() && s.first <= merged.back().last + 1) {
      merged.back().last = std::max(merged.back().last, s.last);
    } else {
      merged.push_back(s);
    }
  }
  return merged;
}

bool BelowCommitted(const SessionEntry& session,
                    const std::map<TopicPartition, int64_t>& committed) {
  for (const JournalBatch& b : session.batches()) {
    for (const JournalRange& r : b.ranges()) {
      auto it = committed.find(TpOf(r));
      if (it == committed.end() || r.last_offset() >= it->second) return false;
    }
  }
  return true;
}

bool Touches(const SessionEntry& session, const TopicPartition& tp) {
  for (const JournalBatch& b : session.batches()) {
    for (const JournalRange& r : b.ranges()) {
      if (TpOf(r) == tp) return true;
    }
  }
  return false;
}

}  // namespace mcsink::journal
