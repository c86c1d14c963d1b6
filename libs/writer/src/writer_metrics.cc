#include "mcsink/writer/writer_metrics.h"

#include <algorithm>

namespace mcsink::writer {
namespace {

prometheus::Family<prometheus::Counter>& CounterFamily(prometheus::Registry& r,
                                                       const std::string& name,
                                                       const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}

// Tunnel calls take from milliseconds (a commit on mclocal) to minutes (a 64 MiB block at the
// documented 10 MB/s per block write).
const prometheus::Histogram::BucketBoundaries& RequestBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
  return *buckets;
}

// Accept-to-commit is dominated by the commit interval (seconds to minutes).
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60, 120, 300, 600};
  return *buckets;
}

}  // namespace

const char* TunnelOpName(TunnelOp op) {
  switch (op) {
    case TunnelOp::kEnsurePartition:
      return "ensure_partition";
    case TunnelOp::kCreateSession:
      return "create_session";
    case TunnelOp::kUploadBlock:
      return "upload_block";
    case TunnelOp::kCommit:
      return "commit";
  }
  return "unknown";
}

WriterMetrics::WriterMetrics(prometheus::Registry& r, const std::string& connector,
                             const std::string& table)
    : connector_(connector),
      table_(table),
      batches_(CounterFamily(r, "mcsink_writer_batches_total", "Row batches accepted.")
                   .Add({{"connector", connector}, {"table", table}})),
      batches_acked_(CounterFamily(r, "mcsink_writer_batches_acknowledged_total",
                                   "Row batches acknowledged after their sessions committed.")
                         .Add({{"connector", connector}, {"table", table}})),
      batches_failed_(CounterFamily(r, "mcsink_writer_batches_failed_total",
                                    "Row batches a Tunnel call failed for good; they go back "
                                    "upstream as failures, for the dead-letter topic.")
                          .Add({{"connector", connector}, {"table", table}})),
      rows_accepted_(CounterFamily(r, "mcsink_writer_accepted_rows_total", "Rows accepted.")
                         .Add({{"connector", connector}, {"table", table}})),
      bytes_accepted_(
          CounterFamily(r, "mcsink_writer_accepted_bytes_total", "Encoded row bytes accepted.")
              .Add({{"connector", connector}, {"table", table}})),
      rows_(CounterFamily(r, "mcsink_writer_uploaded_rows_total", "Rows uploaded in blocks.")
                .Add({{"connector", connector}, {"table", table}})),
      bytes_(CounterFamily(r, "mcsink_writer_uploaded_bytes_total",
                           "Block bytes uploaded (record streams with trailers).")
                 .Add({{"connector", connector}, {"table", table}})),
      blocks_(CounterFamily(r, "mcsink_writer_blocks_total", "Blocks uploaded.")
                  .Add({{"connector", connector}, {"table", table}})),
      committed_rows_(CounterFamily(r, "mcsink_writer_committed_rows_total",
                                    "Rows in committed upload sessions.")
                          .Add({{"connector", connector}, {"table", table}})),
      committed_bytes_(CounterFamily(r, "mcsink_writer_committed_bytes_total",
                                     "Encoded row bytes in committed upload sessions.")
                           .Add({{"connector", connector}, {"table", table}})),
      commits_(CounterFamily(r, "mcsink_writer_commits_total", "Upload sessions committed.")
                   .Add({{"connector", connector}, {"table", table}})),
      sessions_(CounterFamily(r, "mcsink_writer_sessions_created_total", "Upload sessions created.")
                    .Add({{"connector", connector}, {"table", table}})),
      partitions_created_(CounterFamily(r, "mcsink_writer_partitions_created_total",
                                        "Partitions the writer added to the table.")
                              .Add({{"connector", connector}, {"table", table}})),
      retries_(CounterFamily(r, "mcsink_writer_retries_total",
                             "Tunnel calls retried after a transient failure, per operation.")),
      request_errors_(CounterFamily(r, "mcsink_writer_tunnel_request_errors_total",
                                    "Tunnel calls that failed, per operation.")),
      request_seconds_(prometheus::BuildHistogram()
                           .Name("mcsink_writer_tunnel_request_seconds")
                           .Help("Latency of Tunnel calls, per operation.")
                           .Register(r)),
      accept_to_commit_seconds_(
          prometheus::BuildHistogram()
              .Name("mcsink_writer_accept_to_commit_seconds")
              .Help("Time from a batch reaching the writer to its acknowledgement.")
              .Register(r)
              .Add({{"connector", connector}, {"table", table}}, LatencyBuckets())),
      produce_to_commit_seconds_(
          prometheus::BuildHistogram()
              .Name("mcsink_writer_produce_to_commit_seconds")
              .Help("Time from the Kafka timestamp of a batch's oldest record to the batch's "
                    "acknowledgement after commit.")
              .Register(r)
              .Add({{"connector", connector}, {"table", table}}, LatencyBuckets())),
      buffered_bytes_(prometheus::BuildGauge()
                          .Name("mcsink_writer_buffered_bytes")
                          .Help("Bytes accepted and not yet committed.")
                          .Register(r)
                          .Add({{"connector", connector}, {"table", table}})),
      open_sessions_(prometheus::BuildGauge()
                         .Name("mcsink_writer_sessions")
                         .Help("Upload sessions open or waiting to commit.")
                         .Register(r)
                         .Add({{"connector", connector}, {"table", table}})),
      sessions_reopened_(
          CounterFamily(r, "mcsink_writer_sessions_reopened_total",
                        "Upload sessions the server lost or expired before commit, whose blocks "
                        "were uploaded again in a new session.")
              .Add({{"connector", connector}, {"table", table}})) {}

prometheus::Counter& WriterMetrics::Counter(prometheus::Family<prometheus::Counter>& family,
                                            TunnelOp op) {
  return family.Add(
      {{"connector", connector_}, {"table", table_}, {"operation", TunnelOpName(op)}});
}

void WriterMetrics::OnBatchAccepted(int64_t rows, int64_t bytes) {
  batches_.Increment();
  rows_accepted_.Increment(static_cast<double>(rows));
  bytes_accepted_.Increment(static_cast<double>(bytes));
}

void WriterMetrics::OnBatchAcknowledged(double accept_to_commit_seconds) {
  batches_acked_.Increment();
  accept_to_commit_seconds_.Observe(accept_to_commit_seconds);
}

void WriterMetrics::OnBatchFailed() { batches_failed_.Increment(); }

void WriterMetrics::OnProduceToCommit(double seconds) {
  // A producer clock ahead of ours would give a negative latency; it is at most "now".
  produce_to_commit_seconds_.Observe(std::max(0.0, seconds));
}

void WriterMetrics::OnTunnelRequest(TunnelOp op, double seconds, bool ok) {
  request_seconds_
      .Add({{"connector", connector_}, {"table", table_}, {"operation", TunnelOpName(op)}},
           RequestBuckets())
      .Observe(seconds);
  if (!ok) Counter(request_errors_, op).Increment();
}

void WriterMetrics::OnRetry(TunnelOp op) { Counter(retries_, op).Increment(); }
void WriterMetrics::OnPartitionCreated() { partitions_created_.Increment(); }
void WriterMetrics::OnSessionCreated() { sessions_.Increment(); }
void WriterMetrics::OnSessionReopened() { sessions_reopened_.Increment(); }

void WriterMetrics::OnBlockUploaded(int64_t rows, int64_t bytes) {
  blocks_.Increment();
  rows_.Increment(static_cast<double>(rows));
  bytes_.Increment(static_cast<double>(bytes));
}

void WriterMetrics::OnCommitted(int64_t rows, int64_t bytes, int64_t /*blocks*/) {
  commits_.Increment();
  committed_rows_.Increment(static_cast<double>(rows));
  committed_bytes_.Increment(static_cast<double>(bytes));
}

void WriterMetrics::SetBufferedBytes(int64_t bytes) {
  buffered_bytes_.Set(static_cast<double>(bytes));
}
void WriterMetrics::SetOpenSessions(int64_t sessions) {
  open_sessions_.Set(static_cast<double>(sessions));
}

}  // namespace mcsink::writer
