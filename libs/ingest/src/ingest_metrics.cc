#include "mcsink/ingest/ingest_metrics.h"

#include "mcsink/common/metric_families.h"

namespace mcsink::ingest {
namespace {

prometheus::Family<prometheus::Gauge>& MakeGauges(prometheus::Registry& r, const std::string& name,
                                                  const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}

}  // namespace

IngestMetrics::IngestMetrics(prometheus::Registry& r, const std::string& connector)
    : connector_(connector),
      records_(AddCounter(r, "mcsink_ingest_records_total", "Records consumed from Kafka.",
                          {{"connector", connector}})),
      bytes_(AddCounter(r, "mcsink_ingest_bytes_total", "Key and value bytes consumed from Kafka.",
                        {{"connector", connector}})),
      batches_(AddCounter(r, "mcsink_ingest_batches_total", "Batches sent to transform.",
                          {{"connector", connector}})),
      commits_(AddCounter(r, "mcsink_ingest_offset_commits_total",
                          "Partition offsets committed to Kafka.", {{"connector", connector}})),
      commit_failures_(AddCounter(r, "mcsink_ingest_offset_commit_failures_total",
                                  "Kafka offset commits that failed.", {{"connector", connector}})),
      pauses_(AddCounter(r, "mcsink_ingest_backpressure_pauses_total",
                         "Times a consumer paused its partitions in librdkafka because too much "
                         "was unacknowledged for longer than its hold.",
                         {{"connector", connector}})),
      holds_(AddCounter(r, "mcsink_ingest_backpressure_holds_total",
                        "Times a consumer stopped polling because too much was unacknowledged.",
                        {{"connector", connector}})),
      held_seconds_(AddCounter(r, "mcsink_ingest_backpressure_held_seconds_total",
                               "Time consumers spent not polling, waiting for acknowledgements.",
                               {{"connector", connector}})),
      stopped_(AddCounter(r, "mcsink_ingest_stopped_partitions_total",
                          "Partitions stopped by the failure policy 'stop'.",
                          {{"connector", connector}})),
      dead_lettered_(prometheus::BuildCounter()
                         .Name("mcsink_ingest_dead_lettered_records_total")
                         .Help("Records produced to the dead-letter topic, by reason (failure "
                               "code).")
                         .Register(r)),
      dead_letter_failures_(
          AddCounter(r, "mcsink_ingest_dead_letter_failures_total",
                     "Batches whose records could not be produced to the dead-letter topic (left "
                     "unacknowledged).",
                     {{"connector", connector}})),
      fenced_resends_(AddCounter(r, "mcsink_ingest_fenced_resends_total",
                                 "Batches refused as FENCED and sent again while their consumer "
                                 "still owns them.",
                                 {{"connector", connector}})),
      fenced_give_ups_(
          AddCounter(r, "mcsink_ingest_fenced_give_ups_total",
                     "Batches refused as FENCED that were left unacknowledged (refused "
                     "too often in a row, or not readable again) until a restart or "
                     "rebalance reads them again.",
                     {{"connector", connector}})),
      lag_(MakeGauges(r, "mcsink_ingest_consumer_lag_records",
                      "Records between the consumer position and the log end, per partition.")),
      in_flight_batches_(MakeGauges(r, "mcsink_ingest_in_flight_batches",
                                    "Batches sent and not yet acknowledged.")),
      in_flight_bytes_(
          MakeGauges(r, "mcsink_ingest_in_flight_bytes", "Bytes sent and not yet acknowledged.")) {}

void IngestMetrics::OnConsumed(int64_t records, int64_t bytes) {
  records_.Increment(static_cast<double>(records));
  bytes_.Increment(static_cast<double>(bytes));
}

void IngestMetrics::OnBatchSent(int64_t, int64_t) { batches_.Increment(); }
void IngestMetrics::OnCommitted(int64_t partitions) {
  commits_.Increment(static_cast<double>(partitions));
}
void IngestMetrics::OnCommitFailed() { commit_failures_.Increment(); }
void IngestMetrics::OnPaused() { pauses_.Increment(); }
void IngestMetrics::OnHeld(absl::Duration held) {
  holds_.Increment();
  held_seconds_.Increment(absl::ToDoubleSeconds(held));
}
void IngestMetrics::OnPartitionStopped() { stopped_.Increment(); }

void IngestMetrics::OnLag(const std::string& topic, int32_t partition, int64_t lag) {
  lag_.Add({{"connector", connector_}, {"topic", topic}, {"partition", std::to_string(partition)}})
      .Set(static_cast<double>(lag));
}

void IngestMetrics::SetInFlight(int worker, int64_t batches, int64_t bytes) {
  const prometheus::Labels labels{{"connector", connector_}, {"worker", std::to_string(worker)}};
  in_flight_batches_.Add(labels).Set(static_cast<double>(batches));
  in_flight_bytes_.Add(labels).Set(static_cast<double>(bytes));
}

}  // namespace mcsink::ingest

namespace mcsink::ingest {

void IngestMetrics::OnDeadLettered(const std::string& reason) {
  dead_lettered_.Add({{"connector", connector_}, {"reason", reason}}).Increment();
}

void IngestMetrics::OnDeadLetterFailed() { dead_letter_failures_.Increment(); }
void IngestMetrics::OnFencedResend() { fenced_resends_.Increment(); }
void IngestMetrics::OnFencedGiveUp() { fenced_give_ups_.Increment(); }

}  // namespace mcsink::ingest
