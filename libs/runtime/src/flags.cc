#include "mcsink/runtime/flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(int, commit_interval_seconds, 30,
          "commit an upload session at the latest this long after its first row");
ABSL_FLAG(int, block_mb, 16, "cut a Tunnel block at this many MiB");
ABSL_FLAG(int, commit_mb, 128, "commit an upload session once it holds this many MiB");
ABSL_FLAG(int, writer_buffer_mb, 256, "most MiB the writer holds uncommitted");

namespace mcsink::runtime {

writer::TableWriterOptions WriterOptionsFromFlags(const std::string& table) {
  writer::TableWriterOptions options;
  options.table = table;
  options.commit_interval = absl::Seconds(absl::GetFlag(FLAGS_commit_interval_seconds));
  options.block_bytes = int64_t{absl::GetFlag(FLAGS_block_mb)} << 20;
  options.commit_bytes = int64_t{absl::GetFlag(FLAGS_commit_mb)} << 20;
  options.max_buffered_bytes = int64_t{absl::GetFlag(FLAGS_writer_buffer_mb)} << 20;
  return options;
}

}  // namespace mcsink::runtime
