// Stable codes of v1::BatchFailure that more than one pipeline stage must agree on: the stage
// that sets one and the stage that acts on it include this header, so the strings cannot drift.
#pragma once

namespace mcsink::pipeline {

// The writer failed permanently to make the batch durable; ingest dead-letters its records (or
// stops their partitions, under the failure policy "stop").
inline constexpr char kWriterFailed[] = "WRITER_FAILED";

// Exactly-once (docs/exactly-once.md): the writer did not write the failure's ranges (a session
// holding them was refused: a newer ingest owner claimed one of the session's partitions, or an
// earlier session of the journal already holds some of its batches). Not a failure of the
// records, so ingest neither dead-letters them nor stops the partition:
//  - an ingest worker that still owns the batch (it was not revoked since: same epoch) reads the
//    failure's ranges back from Kafka and sends them again, under the same batch id, marked
//    `redelivery`; what the rest of the batch held is already durable (or was never written and
//    is named in the ranges);
//  - otherwise the partition's new owner reads the records again, and the batch stays
//    unacknowledged until the revocation forgets it.
inline constexpr char kFenced[] = "FENCED";

}  // namespace mcsink::pipeline
