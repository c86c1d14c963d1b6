// Encodes records in the MaxCompute Tunnel record stream format (maxcompute-protocol.md §3.8),
// one record at a time, appending to a caller's buffer. A block is a concatenation of encoded
// records followed by a trailer; the trailer's checksum is a CRC-32C over the record CRCs, so a
// writer can build blocks from already-encoded records without decoding them.
//
//   std::string buf;
//   RecordEncoder enc(&buf);
//   enc.WriteInteger(0, 1);          // column 0 = 1
//   enc.WriteBytes(1, "hello");      // column 1 = "hello"; column 2 omitted = NULL
//   uint32_t crc = enc.EndRecord();
//   StreamTrailer trailer;  trailer.Add(crc);  trailer.AppendTo(&buf);
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "mcsink/maxcompute/crc32c.h"
#include "mcsink/maxcompute/types.h"
#include "mcsink/maxcompute/value.h"

namespace mcsink::maxcompute {

class RecordEncoder {
 public:
  // Appends to *out, which must outlive the encoder.
  explicit RecordEncoder(std::string* out) : out_(out) {}

  // `column` is the 0-based index among the table's data columns. Within a record, columns
  // must be written in increasing index order; a NULL column is simply not written.
  void WriteInteger(int column, int64_t value);  // BIGINT, INT, SMALLINT, TINYINT
  void WriteBoolean(int column, bool value);
  void WriteDouble(int column, double value);
  void WriteFloat(int column, float value);
  // STRING, VARCHAR, CHAR, BINARY, JSON, and DECIMAL as its plain decimal text ("12.50").
  void WriteBytes(int column, std::string_view value);
  void WriteDate(int column, int64_t days_since_epoch);
  void WriteDatetime(int column, int64_t epoch_millis);
  void WriteTimestamp(int column, int64_t epoch_seconds, int32_t nanos);

  // Ends the record: writes the end tag and the record's CRC, returns that CRC and resets
  // for the next record.
  uint32_t EndRecord();

 private:
  // The record CRC's input is many small pieces (a 4-byte field number before every value, 8-byte
  // integers, short strings); one CRC call per piece cost more than the CRC work itself. Pieces
  // are gathered here and fed to the CRC in one call per record, or when the buffer is full;
  // values of half the buffer or more go to the CRC directly, without a copy.
  static constexpr size_t kCrcBufferBytes = 256;
  void AddCrcInput(const void* data, size_t size);
  void AddCrcField(int column, const void* value, size_t size);
  void FlushCrcInput();

  std::string* out_;
  Crc32c crc_;
  size_t crc_pending_ = 0;
  char crc_buffer_[kCrcBufferBytes];  // not initialized: only [0, crc_pending_) is read
};

// The stream trailer: record count and the CRC-32C over the record CRCs (each as 4 LE bytes).
class StreamTrailer {
 public:
  void Add(uint32_t record_crc);
  // Add() of each CRC in order, in one CRC call over the array (its in-memory layout is the
  // little-endian bytes the checksum covers).
  void AddAll(std::span<const uint32_t> record_crcs);
  int64_t count() const { return count_; }
  // Appends META_COUNT and META_CHECKSUM to *out.
  void AppendTo(std::string* out) const;

 private:
  int64_t count_ = 0;
  Crc32c crc_of_crcs_;
};

// Writes `row` as one record (values in data-column order; a row shorter than the schema leaves
// the remaining columns NULL) and ends it; returns the record CRC for a StreamTrailer. Every value
// is checked against its column's type first (CheckValueForType), so on error nothing is written.
absl::StatusOr<uint32_t> EncodeRow(const TableSchema& schema, const Row& row,
                                   RecordEncoder* encoder);

// A complete record stream (records and trailer) holding `rows`: one block body or one download
// response.
absl::StatusOr<std::string> EncodeRecordStream(const TableSchema& schema,
                                               std::span<const Row> rows);

}  // namespace mcsink::maxcompute
