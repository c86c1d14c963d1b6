#include "mcsink/journal/journal_state.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

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
  uint32_t hash = 2166136261u;
  for (unsigned char c : connector) {
    hash ^= c;
    hash *= 16777619u;
  }
  return static_cast<int32_t>(hash % static_cast<uint32_t>(std::max(1, partition_count)));
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

absl::Status JournalReplay::Apply(int64_t offset, const std::string& key,
                                  const std::string* value) {
  if (value == nullptr) {
    if (absl::StartsWith(key, kDonePrefix)) {
      sessions_.erase(key.substr(sizeof(kDonePrefix) - 1));
    } else if (absl::StartsWith(key, kPendingPrefix)) {
      auto it = sessions_.find(key.substr(sizeof(kPendingPrefix) - 1));
      if (it != sessions_.end() && it->second.entry.state() != SessionEntry::DONE) {
        sessions_.erase(it);
      }
    }
    return absl::OkStatus();
  }
  absl::StatusOr<JournalEntry> entry = DecodeEntry(*value);
  if (!entry.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("journal record at offset ", offset, " (key '",
                                                   key, "'): ", entry.status().message()));
  }
  if (entry->has_fence()) {
    fences_.Apply(offset, entry->fence());
    return absl::OkStatus();
  }
  SessionEntry& s = *entry->mutable_session();
  // DONE is final: a late record of a stale writer (a repeated PENDING, written after the
  // session was finished by a recovery) must not reopen it.
  if (auto it = sessions_.find(s.upload_id());
      it != sessions_.end() && it->second.entry.state() == SessionEntry::DONE) {
    return absl::OkStatus();
  }
  switch (s.state()) {
    case SessionEntry::PENDING: {
      const bool valid = fences_.Check(s).ok();
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
  // A batch is identified by its ranges with their epochs: one consumer under one epoch never
  // sends the same offsets twice.
  struct Count {
    int groups = 0;
    int total = 0;
    std::vector<OffsetSpan> spans;  // of tp
  };
  std::map<std::string, Count> batches;
  for (const SessionEntry* s : done) {
    for (const JournalBatch& b : s->batches()) {
      std::string id;
      std::vector<OffsetSpan> spans;
      for (const JournalRange& r : b.ranges()) {
        absl::StrAppend(&id, r.topic(), "/", r.partition(), "/", r.first_offset(), "/",
                        r.last_offset(), "/", r.epoch(), ";");
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
