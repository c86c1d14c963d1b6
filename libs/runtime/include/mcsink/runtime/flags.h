// Flags the services share with the all-in-one process (memory bounds, commit policy),
// declared once.
#pragma once

#include "absl/flags/declare.h"
#include "mcsink/ingest/ingest_service.h"
#include "mcsink/writer/table_writer.h"

ABSL_DECLARE_FLAG(int, commit_interval_seconds);
ABSL_DECLARE_FLAG(int, block_mb);
ABSL_DECLARE_FLAG(int, commit_mb);
ABSL_DECLARE_FLAG(int, writer_buffer_mb);
ABSL_DECLARE_FLAG(int, ingest_in_flight_mb);
ABSL_DECLARE_FLAG(int, ingest_fetch_queue_mb);
ABSL_DECLARE_FLAG(int, transform_unacked_mb);

namespace mcsink::runtime {

// TableWriterOptions for `table` from the flags above.
writer::TableWriterOptions WriterOptionsFromFlags(const std::string& table);

// Ingest's memory bounds from the flags, shared among `concurrency` consumer threads.
void ApplyIngestFlags(uint32_t concurrency, ingest::IngestServiceOptions* options);

// Transform's bound on rows sent to the writer and not yet acknowledged.
int64_t TransformUnackedBytesFromFlags();

}  // namespace mcsink::runtime
