// Flags that the writer (alone or in the all-in-one process) shares, declared once.
#pragma once

#include "absl/flags/declare.h"
#include "mcsink/writer/table_writer.h"

ABSL_DECLARE_FLAG(int, commit_interval_seconds);
ABSL_DECLARE_FLAG(int, block_mb);
ABSL_DECLARE_FLAG(int, commit_mb);
ABSL_DECLARE_FLAG(int, writer_buffer_mb);

namespace mcsink::runtime {

// TableWriterOptions for `table` from the flags above.
writer::TableWriterOptions WriterOptionsFromFlags(const std::string& table);

}  // namespace mcsink::runtime
