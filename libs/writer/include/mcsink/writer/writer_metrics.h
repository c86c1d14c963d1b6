// The writer's Prometheus metrics for one table. The writer reports through intention-named
// methods and never touches the registry. Names: mcsink_writer_<thing>_<unit>; labels connector
// and table, plus `operation` (one of four Tunnel calls) where a metric is per call. Partition
// values are never labels: they are unbounded over time.
#pragma once

#include <cstdint>
#include <string>

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace mcsink::writer {

// The Tunnel calls the writer makes, for per-call metrics and messages.
enum class TunnelOp { kEnsurePartition, kCreateSession, kUploadBlock, kCommit };
const char* TunnelOpName(TunnelOp op);

class WriterMetrics {
 public:
  WriterMetrics(prometheus::Registry& registry, const std::string& connector,
                const std::string& table);

  void OnBatchAccepted(int64_t rows, int64_t bytes);
  void OnBatchAcknowledged(double accept_to_commit_seconds);
  void OnBatchFailed();
  // A batch was acknowledged `seconds` after the Kafka timestamp of its oldest record.
  void OnProduceToCommit(double seconds);
  // One Tunnel request finished (successfully or not) after `seconds`.
  void OnTunnelRequest(TunnelOp op, double seconds, bool ok);
  void OnRetry(TunnelOp op);
  void OnPartitionCreated();
  void OnSessionCreated();
  void OnBlockUploaded(int64_t rows, int64_t bytes);
  void OnCommitted(int64_t rows, int64_t bytes, int64_t blocks);
  // Bytes accepted and not yet committed or failed (what Add's bound applies to).
  void SetBufferedBytes(int64_t bytes);
  void SetOpenSessions(int64_t sessions);
  // An upload session was lost or expired on the server and its blocks were sent again in a new
  // one.
  void OnSessionReopened();

 private:
  prometheus::Counter& Counter(prometheus::Family<prometheus::Counter>& family, TunnelOp op);

  const std::string connector_;
  const std::string table_;
  prometheus::Counter& batches_;
  prometheus::Counter& batches_acked_;
  prometheus::Counter& batches_failed_;
  prometheus::Counter& rows_accepted_;
  prometheus::Counter& bytes_accepted_;
  prometheus::Counter& rows_;
  prometheus::Counter& bytes_;
  prometheus::Counter& blocks_;
  prometheus::Counter& committed_rows_;
  prometheus::Counter& committed_bytes_;
  prometheus::Counter& commits_;
  prometheus::Counter& sessions_;
  prometheus::Counter& partitions_created_;
  prometheus::Family<prometheus::Counter>& retries_;
  prometheus::Family<prometheus::Counter>& request_errors_;
  prometheus::Family<prometheus::Histogram>& request_seconds_;
  prometheus::Histogram& accept_to_commit_seconds_;
  prometheus::Histogram& produce_to_commit_seconds_;
  prometheus::Gauge& buffered_bytes_;
  prometheus::Gauge& open_sessions_;
  prometheus::Counter& sessions_reopened_;
};

}  // namespace mcsink::writer
