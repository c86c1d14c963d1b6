#include "mcsink/journal/journal_metrics.h"

#include "mcsink/common/metric_families.h"

namespace mcsink::journal {

namespace {

prometheus::Counter& Recovered(prometheus::Registry& registry, const std::string& connector,
                               const std::string& outcome) {
  return prometheus::BuildCounter()
      .Name("mcsink_journal_recovered_sessions_total")
      .Help(
          "Pending upload sessions settled by recovery, by outcome (committed: the records are "
          "skipped; aborted: they are read again)")
      .Register(registry)
      .Add({{"connector", connector}, {"outcome", outcome}});
}

prometheus::Counter& Redelivered(prometheus::Registry& registry, const std::string& connector,
                                 const std::string& outcome) {
  return prometheus::BuildCounter()
      .Name("mcsink_journal_redelivered_batches_total")
      .Help(
          "Batches sent again to a writer (after a restart, or refused as FENCED) and checked "
          "against the journal, by outcome (already_written: acknowledged without writing; "
          "written: none of it was written; partial: the unwritten rest is sent again)")
      .Register(registry)
      .Add({{"connector", connector}, {"outcome", outcome}});
}

}  // namespace

JournalMetrics::JournalMetrics(prometheus::Registry& registry, const std::string& connector)
    : claimed_partitions_(AddCounter(registry, "mcsink_journal_claimed_partitions_total",
                                     "Source partitions claimed (fenced) by ingest consumers",
                                     {{"connector", connector}})),
      written_spans_(AddCounter(registry, "mcsink_journal_written_spans_total",
                                "Offset spans found already written when claiming partitions "
                                "(skipped instead of written again)",
                                {{"connector", connector}})),
      recovered_committed_(Recovered(registry, connector, "committed")),
      recovered_aborted_(Recovered(registry, connector, "aborted")),
      partial_batches_(AddCounter(registry, "mcsink_journal_partial_batches_total",
                                  "Batches found written in some of their pt sessions only; read "
                                  "again, so those rows are duplicated",
                                  {{"connector", connector}})),
      fenced_(AddCounter(registry, "mcsink_journal_fenced_commits_total",
                         "Upload sessions not committed because a newer ingest owner claimed "
                         "their partitions (expected after rebalances)",
                         {{"connector", connector}})),
      duplicates_refused_(AddCounter(registry, "mcsink_journal_duplicate_sessions_refused_total",
                                     "Upload sessions not committed because an earlier session "
                                     "of the journal holds some of their records (a second copy "
                                     "of re-sent batches; their batches are checked again)",
                                     {{"connector", connector}})),
      redelivered_written_already_(Redelivered(registry, connector, "already_written")),
      redelivered_written_(Redelivered(registry, connector, "written")),
      redelivered_partial_(Redelivered(registry, connector, "partial")) {}

void JournalMetrics::OnClaimed(int64_t partitions, int64_t written_spans) {
  claimed_partitions_.Increment(static_cast<double>(partitions));
  written_spans_.Increment(static_cast<double>(written_spans));
}

void JournalMetrics::OnRecovered(bool committed) {
  (committed ? recovered_committed_ : recovered_aborted_).Increment();
}

void JournalMetrics::OnPartialBatches(int64_t batches) {
  partial_batches_.Increment(static_cast<double>(batches));
}

void JournalMetrics::OnFenced() { fenced_.Increment(); }

}  // namespace mcsink::journal

namespace mcsink::journal {

void JournalMetrics::OnDuplicateRefused() { duplicates_refused_.Increment(); }

void JournalMetrics::OnRedelivered(Redelivery outcome) {
  switch (outcome) {
    case Redelivery::kAlreadyWritten:
      redelivered_written_already_.Increment();
      break;
    case Redelivery::kWritten:
      redelivered_written_.Increment();
      break;
    case Redelivery::kPartial:
      redelivered_partial_.Increment();
      break;
  }
}

}  // namespace mcsink::journal
