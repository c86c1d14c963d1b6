// The exactly-once journal's protocol without Kafka: keys and encoding, the fencing rule, what a
// replay makes of each sequence of records, and which offsets count as written.
#include "mcsink/journal/journal_state.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink::journal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

FenceEntry Fence(int32_t partition) {
  FenceEntry f;
  f.set_topic("orders");
  f.set_partition(partition);
  f.set_owner("test");
  return f;
}

// A session holding one batch: `groups` of its `total` row groups, covering orders[partition]
// [first, last] consumed under `epoch`.
SessionEntry Session(const std::string& id, SessionEntry::State state, int32_t partition,
                     int64_t first, int64_t last, int64_t epoch, int groups = 1, int total = 1) {
  SessionEntry s;
  s.set_state(state);
  s.set_table("t");
  s.set_partition("pt=h");
  s.set_upload_id(id);
  s.add_block_ids(0);
  JournalBatch* b = s.add_batches();
  b->set_groups(groups);
  b->set_total_groups(total);
  JournalRange* r = b->add_ranges();
  r->set_topic("orders");
  r->set_partition(partition);
  r->set_first_offset(first);
  r->set_last_offset(last);
  r->set_epoch(epoch);
  return s;
}

std::string Encoded(const FenceEntry& f) {
  JournalEntry e;
  e.set_connector("c");
  *e.mutable_fence() = f;
  return EncodeEntry(e);
}

std::string Encoded(const SessionEntry& s) {
  JournalEntry e;
  e.set_connector("c");
  *e.mutable_session() = s;
  return EncodeEntry(e);
}

// Applies records in order, at offsets 0, 1, 2, ...
class Replayer {
 public:
  Replayer& Fence(int32_t partition) {
    const std::string v = Encoded(journal::Fence(partition));
    EXPECT_OK(replay.Apply(next++, FenceKey("orders", partition), &v));
    return *this;
  }
  Replayer& Record(const SessionEntry& s) {
    const std::string v = Encoded(s);
    EXPECT_OK(replay.Apply(next++, SessionKey(s), &v));
    return *this;
  }
  Replayer& Tombstone(const std::string& key) {
    EXPECT_OK(replay.Apply(next++, key, nullptr));
    return *this;
  }
  int64_t next = 0;
  JournalReplay replay;
};

TEST(JournalEncoding, EntryRoundTripsThroughJson) {
  // Given a PENDING session entry
  const SessionEntry s = Session("u1", SessionEntry::PENDING, 3, 10, 20, 7, 1, 2);
  // When it is encoded and decoded
  const std::string value = Encoded(s);
  ASSERT_OK_AND_ASSIGN(JournalEntry back, DecodeEntry(value));
  // Then it is the same entry, and the stored form is readable JSON
  EXPECT_EQ(back.session().SerializeAsString(), s.SerializeAsString());
  EXPECT_THAT(value, HasSubstr("\"upload_id\":\"u1\""));
}

TEST(JournalEncoding, ValueThatIsNoEntryIsRejectedWithItsText) {
  EXPECT_THAT(DecodeEntry("not json").status().message(), HasSubstr("not json"));
  EXPECT_FALSE(DecodeEntry("{\"connector\":\"c\"}").ok());  // neither fence nor session
}

TEST(JournalEncoding, UnknownFieldsOfNewerVersionsAreIgnored) {
  ASSERT_OK_AND_ASSIGN(
      JournalEntry e,
      DecodeEntry(R"({"connector":"c","future":1,"fence":{"topic":"t","partition":2}})"));
  EXPECT_EQ(e.fence().partition(), 2);
}

TEST(JournalKeys, DoneHasItsOwnKeySoCompactionKeepsIt) {
  const SessionEntry pending = Session("u1", SessionEntry::PENDING, 0, 0, 0, 1);
  SessionEntry done = pending;
  done.set_state(SessionEntry::DONE);
  EXPECT_EQ(SessionKey(pending), "pending-u1");
  EXPECT_EQ(SessionKey(done), "done-u1");
  EXPECT_EQ(FenceKey("orders", 4), "fence-orders-4");
}

TEST(JournalPartition, IsFnv1aOfTheConnectorNameSoEveryVersionAgrees) {
  // Values of 32-bit FNV-1a computed independently (a changed hash would orphan journals).
  EXPECT_EQ(JournalPartition("orders", 12), 845059820 % 12);
  EXPECT_EQ(JournalPartition("connector-a", 12), static_cast<int32_t>(3478325490u % 12));
  EXPECT_EQ(JournalPartition("orders", 1), 0);
}

TEST(FenceBook, RangeUnderTheCurrentEpochPasses) {
  FenceBook book;
  book.Apply(5, Fence(0));
  EXPECT_EQ(book.EpochOf({"orders", 0}), 6);
  EXPECT_OK(book.Check(Session("u", SessionEntry::PENDING, 0, 0, 9, 6)));
}

TEST(FenceBook, RangeOfAnOlderEpochIsFencedWithAMessageSayingWhich) {
  // Given a partition claimed at offset 5, then again at offset 8
  FenceBook book;
  book.Apply(5, Fence(0));
  book.Apply(8, Fence(0));
  // When a session consumed under the first claim is checked
  const absl::Status status = book.Check(Session("u", SessionEntry::PENDING, 0, 100, 109, 6));
  // Then it is fenced, naming the session, the range and both epochs
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_TRUE(writer::IsFenced(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("upload session u is fenced"));
  EXPECT_THAT(status.message(), HasSubstr("orders[0] offsets 100..109"));
  EXPECT_THAT(status.message(), HasSubstr("epoch 6"));
  EXPECT_THAT(status.message(), HasSubstr("(epoch 9)"));
}

TEST(FenceBook, FenceOfAnotherPartitionDoesNotMatter) {
  FenceBook book;
  book.Apply(0, Fence(0));
  book.Apply(1, Fence(1));
  EXPECT_OK(book.Check(Session("u", SessionEntry::PENDING, 0, 0, 9, 1)));
}

TEST(FenceBook, RangeWithoutEpochPassesOnlyForANeverClaimedPartition) {
  FenceBook book;
  EXPECT_OK(book.Check(Session("u", SessionEntry::PENDING, 0, 0, 9, 0)));
  book.Apply(0, Fence(0));
  EXPECT_FALSE(book.Check(Session("u", SessionEntry::PENDING, 0, 0, 9, 0)).ok());
}

TEST(JournalReplay, PendingBeforeANewFenceStaysValid) {
  // Given owner 1 (epoch 1), a PENDING it wrote, then owner 2's fence
  Replayer r;
  r.Fence(0).Record(Session("u", SessionEntry::PENDING, 0, 0, 9, 1)).Fence(0);
  // Then the PENDING is valid: it stood before the new fence, so recovery must finish it
  ASSERT_EQ(r.replay.sessions().count("u"), 1u);
  EXPECT_TRUE(r.replay.sessions().at("u").valid);
  EXPECT_EQ(r.replay.fences().EpochOf({"orders", 0}), 3);
}

TEST(JournalReplay, PendingAfterANewFenceIsInvalid) {
  // Given owner 1 (epoch 1), owner 2's fence, then a PENDING of owner 1's records
  Replayer r;
  r.Fence(0).Fence(0).Record(Session("u", SessionEntry::PENDING, 0, 0, 9, 1));
  // Then the PENDING is invalid: its writer must not commit and recovery ignores it
  EXPECT_FALSE(r.replay.sessions().at("u").valid);
}

TEST(JournalReplay, DoneIsFinalEvenIfAStaleWriterRepeatsItsPending) {
  // Given a session finished (DONE), then a late invalid PENDING and ABORTED of it
  Replayer r;
  r.Fence(0).Record(Session("u", SessionEntry::DONE, 0, 0, 9, 1)).Fence(0);
  r.Record(Session("u", SessionEntry::PENDING, 0, 0, 9, 1));
  r.Record(Session("u", SessionEntry::ABORTED, 0, 0, 9, 1));
  r.Tombstone("pending-u");
  // Then it is still DONE
  ASSERT_EQ(r.replay.sessions().count("u"), 1u);
  EXPECT_EQ(r.replay.sessions().at("u").entry.state(), SessionEntry::DONE);
}

TEST(JournalReplay, AbortedAndPrunedSessionsAreForgotten) {
  Replayer r;
  r.Fence(0);
  r.Record(Session("a", SessionEntry::PENDING, 0, 0, 9, 1));
  r.Record(Session("a", SessionEntry::ABORTED, 0, 0, 9, 1));
  r.Record(Session("d", SessionEntry::DONE, 0, 10, 19, 1));
  r.Tombstone("done-d");
  EXPECT_TRUE(r.replay.sessions().empty());
}

TEST(JournalReplay, UndecodableRecordIsReportedWithItsOffsetAndKey) {
  JournalReplay replay;
  const std::string garbage = "{";
  const absl::Status status = replay.Apply(42, "pending-u9", &garbage);
  EXPECT_THAT(status.message(), HasSubstr("offset 42"));
  EXPECT_THAT(status.message(), HasSubstr("pending-u9"));
}

TEST(JournalReplay, RecordsOfOtherKindsAreSkippedSilently) {
  // Given records whose keys are none of fence-, pending-, done- (a later version's kinds)
  JournalReplay replay;
  const std::string garbage = "{";
  const std::string session = Encoded(Session("u", SessionEntry::DONE, 0, 0, 9, 0));
  // Then they are skipped without an error, whatever their value
  EXPECT_OK(replay.Apply(0, "offsets-orders-0", &garbage));
  EXPECT_OK(replay.Apply(1, "other-u", &session));
  EXPECT_OK(replay.Apply(2, "", nullptr));
  EXPECT_TRUE(replay.sessions().empty());
  EXPECT_EQ(KindOfKey("fence-orders-1"), RecordKind::kFence);
  EXPECT_EQ(KindOfKey("offsets-orders-0"), RecordKind::kOther);
}

// ---- First PENDING wins, and the index of written ranges ----

// `s` with its (only) batch marked as copy `origin`.
SessionEntry Copy(SessionEntry s, const std::string& origin) {
  s.mutable_batches(0)->set_origin(origin);
  return s;
}

v1::OffsetRange Range(int64_t first, int64_t last, int64_t epoch, int32_t partition = 0) {
  v1::OffsetRange r;
  r.set_topic("orders");
  r.set_partition(partition);
  r.set_first_offset(first);
  r.set_last_offset(last);
  r.set_epoch(epoch);
  return r;
}

// "first..last@epoch" of each range, to compare in one expectation.
std::vector<std::string> Spans(const std::vector<v1::OffsetRange>& ranges) {
  std::vector<std::string> out;
  for (const v1::OffsetRange& r : ranges) {
    out.push_back(absl::StrCat(r.first_offset(), "..", r.last_offset(), "@", r.epoch()));
  }
  return out;
}

TEST(FirstPendingWins, SecondPendingWithTheSameRangesIsRefused) {
  // Given owner epoch 1 and a PENDING of offsets 0..9 by writer w1
  Replayer r;
  r.Fence(0).Record(Copy(Session("a", SessionEntry::PENDING, 0, 0, 9, 1), "w1#1"));
  // When a re-sent copy of the same batch is journaled by another writer
  r.Record(Copy(Session("b", SessionEntry::PENDING, 0, 0, 9, 1), "w2#7"));
  // Then the first is valid and the second refused
  EXPECT_TRUE(r.replay.sessions().at("a").valid);
  EXPECT_FALSE(r.replay.sessions().at("b").valid);
  // And the refusal is a FencedError naming both sessions and the offsets
  JournalIndex index;
  const std::string fence = Encoded(journal::Fence(0));
  ASSERT_OK(index.Apply(0, FenceKey("orders", 0), &fence).status());
  const std::string first = Encoded(Copy(Session("a", SessionEntry::PENDING, 0, 0, 9, 1), "w1#1"));
  ASSERT_OK(index.Apply(1, "pending-a", &first).status());
  const std::string second =
      Encoded(Copy(Session("b", SessionEntry::PENDING, 0, 5, 14, 1), "w2#7"));
  ASSERT_OK_AND_ASSIGN(JournalIndex::Applied applied, index.Apply(2, "pending-b", &second));
  EXPECT_TRUE(writer::IsFenced(applied.verdict)) << applied.verdict;
  EXPECT_TRUE(applied.duplicate);
  EXPECT_THAT(applied.verdict.message(), HasSubstr("upload session b is refused"));
  EXPECT_THAT(applied.verdict.message(), HasSubstr("orders[0] offsets 5..14"));
  EXPECT_THAT(applied.verdict.message(), HasSubstr("pending upload session a"));
}

TEST(FirstPendingWins, SecondIsValidOnceTheFirstWasAborted) {
  Replayer r;
  r.Fence(0).Record(Copy(Session("a", SessionEntry::PENDING, 0, 0, 9, 1), "w1#1"));
  r.Record(Copy(Session("a", SessionEntry::ABORTED, 0, 0, 9, 1), "w1#1"));
  r.Record(Copy(Session("b", SessionEntry::PENDING, 0, 0, 9, 1), "w2#7"));
  EXPECT_TRUE(r.replay.sessions().at("b").valid);
}

TEST(FirstPendingWins, SecondIsValidOnceTheFirstPendingWasPruned) {
  Replayer r;
  r.Fence(0).Record(Copy(Session("a", SessionEntry::PENDING, 0, 0, 9, 1), "w1#1"));
  r.Tombstone("pending-a");
  r.Record(Copy(Session("b", SessionEntry::PENDING, 0, 0, 9, 1), "w2#7"));
  EXPECT_TRUE(r.replay.sessions().at("b").valid);
}

TEST(FirstPendingWins, DisjointSessionsAreBothValid) {
  Replayer r;
  r.Fence(0).Record(Copy(Session("a", SessionEntry::PENDING, 0, 0, 9, 1), "w1#1"));
  r.Record(Copy(Session("b", SessionEntry::PENDING, 0, 10, 19, 1), "w1#2"));
  r.Record(Copy(Session("c", SessionEntry::PENDING, 1, 0, 9, 0), "w1#3"));  // other partition
  EXPECT_TRUE(r.replay.sessions().at("a").valid);
  EXPECT_TRUE(r.replay.sessions().at("b").valid);
  EXPECT_TRUE(r.replay.sessions().at("c").valid);
}

TEST(FirstPendingWins, CommittedCopyRefusesALaterCopy) {
  Replayer r;
  r.Fence(0).Record(Copy(Session("a", SessionEntry::PENDING, 0, 0, 9, 1), "w1#1"));
  r.Record(Copy(Session("a", SessionEntry::DONE, 0, 0, 9, 1), "w1#1"));
  r.Record(Copy(Session("b", SessionEntry::PENDING, 0, 9, 12, 1), "w2#1"));
  EXPECT_FALSE(r.replay.sessions().at("b").valid);
}

TEST(FirstPendingWins, PartsOfOneCopyInSeveralSessionsDoNotConflict) {
  // Given a batch whose rows span two pt values: one copy in two sessions
  Replayer r;
  r.Fence(0).Record(Copy(Session("a", SessionEntry::PENDING, 0, 0, 9, 1, 1, 2), "w1#1"));
  r.Record(Copy(Session("a", SessionEntry::DONE, 0, 0, 9, 1, 1, 2), "w1#1"));
  r.Record(Copy(Session("b", SessionEntry::PENDING, 0, 0, 9, 1, 1, 2), "w1#1"));
  EXPECT_TRUE(r.replay.sessions().at("b").valid);
  // And the batch counts as written only once both are committed
  EXPECT_THAT(Spans(r.replay.index().Unwritten({Range(0, 9, 1)})), ElementsAre("0..9@1"));
  r.Record(Copy(Session("b", SessionEntry::DONE, 0, 0, 9, 1, 1, 2), "w1#1"));
  EXPECT_TRUE(r.replay.index().Unwritten({Range(0, 9, 1)}).empty());
}

TEST(FirstPendingWins, CommittedPartOfACopyThatCannotCompleteDoesNotBlockANewCopy) {
  // Given one part of a two-pt batch committed, its other part never journaled (writer died)
  Replayer r;
  r.Fence(0).Record(Copy(Session("a", SessionEntry::PENDING, 0, 0, 9, 1, 1, 2), "w1#1"));
  r.Record(Copy(Session("a", SessionEntry::DONE, 0, 0, 9, 1, 1, 2), "w1#1"));
  // When the batch is re-sent and written whole by another writer
  r.Record(Copy(Session("b", SessionEntry::PENDING, 0, 0, 9, 1, 1, 2), "w2#1"));
  r.Record(Copy(Session("c", SessionEntry::PENDING, 0, 0, 9, 1, 1, 2), "w2#1"));
  // Then both parts are valid (the committed part is duplicated: the documented multi-pt limit;
  // refusing would refuse every copy forever)
  EXPECT_TRUE(r.replay.sessions().at("b").valid);
  EXPECT_TRUE(r.replay.sessions().at("c").valid);
}

TEST(FirstPendingWins, SameOffsetsUnderANewEpochAreNotACopy) {
  // Given 0..9 committed under epoch 1, then the offsets reset and the partition claimed again
  Replayer r;
  r.Fence(0).Record(Copy(Session("a", SessionEntry::DONE, 0, 0, 9, 1), "w1#1"));
  r.Fence(0);
  // Then a session writing them again under the new epoch is valid
  r.Record(Copy(Session("b", SessionEntry::PENDING, 0, 0, 9, 3), "w1#2"));
  EXPECT_TRUE(r.replay.sessions().at("b").valid);
}

TEST(JournalIndex, UnwrittenIsWhatNoCommittedSessionHolds) {
  // Given 0..9 and 20..29 committed under epoch 1, 10..19 pending, 30..39 refused
  Replayer r;
  r.Fence(0).Record(Copy(Session("a", SessionEntry::DONE, 0, 0, 9, 1), "w1#1"));
  r.Record(Copy(Session("b", SessionEntry::DONE, 0, 20, 29, 1), "w1#2"));
  r.Record(Copy(Session("c", SessionEntry::PENDING, 0, 10, 19, 1), "w1#3"));
  const JournalIndex& index = r.replay.index();
  // Then of 0..39 under epoch 1, 10..19 and 30..39 are unwritten
  EXPECT_THAT(Spans(index.Unwritten({Range(0, 39, 1)})), ElementsAre("10..19@1", "30..39@1"));
  EXPECT_TRUE(index.Unwritten({Range(2, 5, 1), Range(20, 29, 1)}).empty());
  // And under another epoch nothing is written
  EXPECT_THAT(Spans(index.Unwritten({Range(0, 9, 4)})), ElementsAre("0..9@4"));
  // And the pending session is the one to finish for 15..25, none for 0..9
  const std::vector<SessionEntry> pending = index.PendingOverlapping({Range(15, 25, 1)});
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].upload_id(), "c");
  EXPECT_TRUE(index.PendingOverlapping({Range(0, 9, 1)}).empty());
  // When it is committed, all of 0..29 is written, in one span
  r.Record(Copy(Session("c", SessionEntry::DONE, 0, 10, 19, 1), "w1#3"));
  EXPECT_TRUE(index.Unwritten({Range(0, 29, 1)}).empty());
  EXPECT_TRUE(index.PendingOverlapping({Range(15, 25, 1)}).empty());
}

TEST(JournalIndex, AbortedPendingLeavesItsOffsetsUnwritten) {
  Replayer r;
  r.Fence(0).Record(Copy(Session("a", SessionEntry::PENDING, 0, 0, 9, 1), "w1#1"));
  r.Record(Copy(Session("a", SessionEntry::ABORTED, 0, 0, 9, 1), "w1#1"));
  EXPECT_TRUE(r.replay.index().PendingOverlapping({Range(0, 9, 1)}).empty());
  EXPECT_THAT(Spans(r.replay.index().Unwritten({Range(0, 9, 1)})), ElementsAre("0..9@1"));
}

TEST(JournalIndex, NewFenceDropsWhatOlderEpochsWrote) {
  // Given 0..9 written under epoch 1 and 10..19 pending under it
  Replayer r;
  r.Fence(0).Record(Copy(Session("a", SessionEntry::DONE, 0, 0, 9, 1), "w1#1"));
  r.Record(Copy(Session("b", SessionEntry::PENDING, 0, 10, 19, 1), "w1#2"));
  // When the partition is claimed again
  r.Fence(0);
  // Then the old epoch is forgotten (its batches fail the fencing rule anyway): bounded memory
  EXPECT_THAT(Spans(r.replay.index().Unwritten({Range(0, 9, 1)})), ElementsAre("0..9@1"));
  EXPECT_TRUE(r.replay.index().PendingOverlapping({Range(10, 19, 1)}).empty());
}

TEST(JournalIndex, SpansPerEpochAreCappedDroppingTheLowest) {
  // Given more disjoint committed ranges than the cap (every other offset)
  Replayer r;
  r.Fence(0);
  const int64_t n = static_cast<int64_t>(JournalIndex::kMaxSpans) + 1;
  for (int64_t i = 0; i < n; ++i) {
    r.Record(Copy(Session(absl::StrCat("s", i), SessionEntry::DONE, 0, 2 * i, 2 * i, 1),
                  absl::StrCat("w#", i)));
  }
  // Then the lowest span was dropped and the highest is kept
  EXPECT_THAT(Spans(r.replay.index().Unwritten({Range(0, 0, 1)})), ElementsAre("0..0@1"));
  EXPECT_TRUE(r.replay.index().Unwritten({Range(2 * (n - 1), 2 * (n - 1), 1)}).empty());
  EXPECT_TRUE(r.replay.index().Unwritten({Range(2, 2, 1)}).empty());
}

TEST(JournalIndex, PendingEntryNamesEachBatchCopyByWriterAndBatchId) {
  writer::CommitRecord record;
  record.session = {"t", "pt=h", "u"};
  record.batches.push_back({42, {Range(0, 9, 1)}, 1, 1});
  const SessionEntry s = PendingEntry(record, "host/1/2");
  EXPECT_EQ(s.batches(0).origin(), "host/1/2#42");
  EXPECT_EQ(OriginOf(s.batches(0)), "host/1/2#42");
}

TEST(WrittenSpans, MergesAdjacentRangesOfThePartitionOnly) {
  const SessionEntry a = Session("a", SessionEntry::DONE, 0, 0, 9, 1);
  const SessionEntry b = Session("b", SessionEntry::DONE, 0, 10, 19, 1);
  const SessionEntry c = Session("c", SessionEntry::DONE, 0, 30, 39, 1);
  const SessionEntry other = Session("o", SessionEntry::DONE, 1, 20, 29, 1);
  int64_t partial = -1;
  const std::vector<OffsetSpan> spans = WrittenSpans({&c, &a, &other, &b}, {"orders", 0}, &partial);
  EXPECT_THAT(spans, ElementsAre(OffsetSpan{0, 19}, OffsetSpan{30, 39}));
  EXPECT_EQ(partial, 0);
}

TEST(WrittenSpans, BatchSpanningTwoSessionsIsWrittenOnlyWhenBothAreDone) {
  // Given a batch whose rows went to two sessions (two pt values), one of them done
  const SessionEntry first = Session("a", SessionEntry::DONE, 0, 0, 9, 1, 1, 2);
  int64_t partial = 0;
  // Then its offsets are not written (they are read again), and it is counted as partial
  EXPECT_TRUE(WrittenSpans({&first}, {"orders", 0}, &partial).empty());
  EXPECT_EQ(partial, 1);
  // When the other session is done too, they are written
  const SessionEntry second = Session("b", SessionEntry::DONE, 0, 0, 9, 1, 1, 2);
  EXPECT_THAT(WrittenSpans({&first, &second}, {"orders", 0}, &partial),
              ElementsAre(OffsetSpan{0, 9}));
  EXPECT_EQ(partial, 0);
}

TEST(WrittenSpans, SameOffsetsUnderAnotherEpochAreAnotherBatch) {
  // A batch re-consumed by a new owner is a different batch: halves of two do not make a whole.
  const SessionEntry old_half = Session("a", SessionEntry::DONE, 0, 0, 9, 1, 1, 2);
  const SessionEntry new_half = Session("b", SessionEntry::DONE, 0, 0, 9, 5, 1, 2);
  int64_t partial = 0;
  EXPECT_TRUE(WrittenSpans({&old_half, &new_half}, {"orders", 0}, &partial).empty());
  EXPECT_EQ(partial, 2);
}

TEST(BelowCommitted, OnlyWhenEveryRangeEndsBeforeItsPartitionsCommittedOffset) {
  const SessionEntry s = Session("a", SessionEntry::DONE, 0, 0, 9, 1);
  EXPECT_TRUE(BelowCommitted(s, {{{"orders", 0}, 10}}));
  EXPECT_FALSE(BelowCommitted(s, {{{"orders", 0}, 9}}));
  EXPECT_FALSE(BelowCommitted(s, {{{"orders", 1}, 100}}));
}

}  // namespace
}  // namespace mcsink::journal
