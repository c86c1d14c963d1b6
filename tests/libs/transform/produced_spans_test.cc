// The bookkeeping behind the exactly-once error and dead-letter topics: which source offsets are
// already produced (merge, lookup, prune), the offset-topic key, and the partition that keeps
// them away from the journal's.
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "mcsink/journal/journal_state.h"
#include "mcsink/transform/error_topic.h"

namespace mcsink::transform {
namespace {

using SpanList = std::vector<std::pair<int64_t, int64_t>>;

SpanList List(const ProducedSpans& spans) {
  return SpanList(spans.spans().begin(), spans.spans().end());
}

TEST(ProducedSpans, AdjacentAndOverlappingOffsetsMergeIntoOneSpan) {
  // Given spans 10..12 and 20..20
  ProducedSpans spans;
  spans.Add(10, 12);
  spans.Add(20);
  // When 13 (adjacent), 19 (adjacent to 20) and 14..18 (bridging) are added
  spans.Add(13);
  spans.Add(19);
  EXPECT_EQ(List(spans), (SpanList{{10, 13}, {19, 20}}));
  spans.Add(14, 18);
  // Then one span remains
  EXPECT_EQ(List(spans), (SpanList{{10, 20}}));
}

TEST(ProducedSpans, OffsetsOutOfOrderStaySortedAndDisjoint) {
  ProducedSpans spans;
  for (int64_t o : {50, 7, 30, 8, 49, 100, 6}) spans.Add(o);
  EXPECT_EQ(List(spans), (SpanList{{6, 8}, {30, 30}, {49, 50}, {100, 100}}));
  spans.Add(0, 1000);  // a span covering them all swallows them
  EXPECT_EQ(List(spans), (SpanList{{0, 1000}}));
}

TEST(ProducedSpans, ContainsOnlyTheOffsetsAdded) {
  ProducedSpans spans;
  spans.Add(5, 9);
  spans.Add(12);
  EXPECT_FALSE(spans.Contains(4));
  EXPECT_TRUE(spans.Contains(5));
  EXPECT_TRUE(spans.Contains(9));
  EXPECT_FALSE(spans.Contains(10));
  EXPECT_FALSE(spans.Contains(11));
  EXPECT_TRUE(spans.Contains(12));
  EXPECT_FALSE(spans.Contains(13));
  EXPECT_FALSE(ProducedSpans().Contains(0));
}

TEST(ProducedSpans, SettleBelowCollapsesEverythingUnderTheOffsetIntoOneSpan) {
  // Given three spans, one across offset 8
  ProducedSpans spans;
  spans.Add(1, 3);
  spans.Add(6, 10);
  spans.Add(20);
  // When everything below 8 is settled
  spans.SettleBelow(8);
  // Then one span holds 0..10, every offset below 8 counts as produced, the rest is unchanged
  EXPECT_EQ(List(spans), (SpanList{{0, 10}, {20, 20}}));
  EXPECT_TRUE(spans.Contains(0));
  EXPECT_TRUE(spans.Contains(4)) << "never produced, but settled: only a stale batch has it";
  EXPECT_FALSE(spans.Contains(11));
  // And settling past every span leaves one
  spans.SettleBelow(100);
  EXPECT_EQ(List(spans), (SpanList{{0, 99}}));
  spans.SettleBelow(0);
  EXPECT_EQ(List(spans), (SpanList{{0, 99}})) << "nothing below offset 0";
}

TEST(ProducedSpansKey, NamesRoleDestinationAndSourcePartition) {
  EXPECT_EQ(ProducedSpansKey("errors", "connect-error-c", "orders", 3),
            "produced-errors-connect-error-c-orders-3");
  EXPECT_NE(ProducedSpansKey("errors", "e", "t", 1), ProducedSpansKey("dead-letter", "e", "t", 1))
      << "the error and dead-letter writers keep separate spans even when the topics are one";
}

TEST(ProducedSpansPartition, IsTheOneAfterTheJournalsPartition) {
  for (const std::string connector : {"a", "orders-sink", "c1", "connector-with-a-long-name-42"}) {
    for (int n : {2, 3, 5, 16}) {
      const int32_t journal = journal::JournalPartition(connector, n);
      EXPECT_EQ(ProducedSpansPartition(connector, n), (journal + 1) % n)
          << connector << " with " << n << " partitions";
      EXPECT_NE(ProducedSpansPartition(connector, n), journal);
    }
  }
  EXPECT_EQ(ProducedSpansPartition("a", 1), 0) << "one partition: the journal's, the only one";
}

}  // namespace
}  // namespace mcsink::transform
