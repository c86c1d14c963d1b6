// Decodes and verifies one Tunnel record stream (maxcompute-protocol.md §3.8): one uploaded block
// body or one download response, already decompressed.
//
//   RecordStreamReader reader(schema, body, {.max_cell_bytes = wire::kMaxCellBytes});
//   Row row;
//   while (true) {
//     MCSINK_ASSIGN_OR_RETURN(bool got, reader.Next(&row));
//     if (!got) break;  // trailer reached: count and stream CRC verified
//     ... use row ...
//   }
//
// Checks: every record CRC, the trailer's record count and stream CRC, and that nothing follows
// the trailer. Rejects a field number that is not a column of `schema`, a wire type that does not
// match the column's type, a column repeated within a record, integers outside INT/SMALLINT/
// TINYINT range, BOOLEAN other than 0/1, TIMESTAMP nanos outside 0..999999999, cells above
// DecodeOptions::max_cell_bytes and truncated input. Columns may appear in any order within a
// record (the Java reader accepts that); absent columns are NULL.
//
// Errors: DataLoss when the bytes are damaged (checksum or count mismatch, truncation),
// InvalidArgument when they are well-formed but do not fit the schema or the limits. Messages name
// the 0-based record number and, where there is one, the column.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mcsink/maxcompute/crc32c.h"
#include "mcsink/maxcompute/types.h"
#include "mcsink/maxcompute/value.h"
#include "mcsink/maxcompute/wire_format.h"

namespace mcsink::maxcompute {

struct DecodeOptions {
  // Largest accepted STRING/VARCHAR/CHAR/BINARY/JSON/DECIMAL cell in bytes; nullopt = no limit.
  // The MaxCompute server uses wire::kMaxCellBytes (8 MiB).
  std::optional<int64_t> max_cell_bytes;
  // Largest accepted number of records; decoding stops with InvalidArgument beyond it. Bounds the
  // memory of DecodeRecordStream, whose rows can be far larger than their encoding (a record of
  // NULLs is 5 bytes on the wire but one Value per column in memory).
  std::optional<int64_t> max_records;
};

// Streams records one at a time with bounded memory; Next reuses the caller's row storage.
class RecordStreamReader {
 public:
  // `schema` and `stream` must outlive the reader. For a download with `columns=`, pass a schema
  // of the requested columns in request order: field numbers are positions in that list.
  RecordStreamReader(const TableSchema& schema, std::string_view stream,
                     DecodeOptions options = {});
  // The reader keeps a reference to the schema: a temporary would dangle.
  RecordStreamReader(TableSchema&& schema, std::string_view stream,
                     DecodeOptions options = {}) = delete;

  // Decodes the next record into *row (resized to the number of data columns; NULLs are
  // std::monostate). Returns true with a record, false once the trailer has been read and
  // verified. After an error, every later call returns the same error.
  absl::StatusOr<bool> Next(Row* row);

  // Records decoded and verified so far.
  int64_t records_read() const { return records_; }
  // Bytes consumed so far (the whole stream after Next returned false).
  size_t bytes_read() const { return static_cast<size_t>(pos_ - begin_); }

 private:
  absl::Status ReadField(uint32_t tag, Row* row, Crc32c* crc);
  absl::Status ReadTrailer();
  absl::Status Fail(absl::Status status);
  absl::Status Truncated(std::string_view what) const;
  std::string ColumnContext(int column) const;

  const TableSchema& schema_;
  const DecodeOptions options_;
  const char* const begin_;
  const char* pos_;
  const char* const end_;
  int64_t records_ = 0;
  Crc32c stream_crc_;
  std::vector<bool> seen_;  // columns present in the current record
  bool done_ = false;
  absl::Status error_;
};

// Decodes a whole stream into rows (each sized to the schema's data columns).
absl::StatusOr<std::vector<Row>> DecodeRecordStream(const TableSchema& schema,
                                                    std::string_view stream,
                                                    const DecodeOptions& options = {});

}  // namespace mcsink::maxcompute
