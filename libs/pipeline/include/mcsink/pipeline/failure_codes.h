// Stable codes of v1::BatchFailure that more than one pipeline stage must agree on: the stage
// that sets one and the stage that acts on it include this header, so the strings cannot drift.
#pragma once

namespace mcsink::pipeline {

// The writer failed permanently to make the batch durable; ingest dead-letters its records (or
// stops their partitions, under the failure policy "stop").
inline constexpr char kWriterFailed[] = "WRITER_FAILED";

// Exactly-once fencing (docs/exactly-once.md): the writer did not commit the batch because a newer
// ingest owner has claimed one of its partitions since it was consumed. Not a failure of the
// records: the new owner reads them again, so ingest neither dead-letters them, nor stops the
// partition, nor acknowledges the batch (which would let its offsets be committed).
inline constexpr char kFenced[] = "FENCED";

}  // namespace mcsink::pipeline
