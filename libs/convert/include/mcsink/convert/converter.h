// Kafka records to MaxCompute rows: the transform service's logic, with no network in it.
//
//   MCSINK_ASSIGN_OR_RETURN(auto converter, Converter::Create(schema, options));
//   ConvertedBatch out;
//   converter->Convert(records, &out);
//   for (const PartitionRows& rows : out.partitions) ... rows.pt, rows.data, rows.crcs ...
//   for (const RecordError& e : out.errors) ... e.offset, ErrorCodeName(e.code), e.message ...
//
// Each input record becomes exactly one row (in `partitions`) or exactly one error (in `errors`),
// so every offset of the input is accounted for. Rows are already encoded in the Tunnel record
// format (maxcompute-protocol.md §3.8) with their CRCs: a writer builds a block by concatenating
// `data` and adding a StreamTrailer over `crcs`, without decoding anything.
//
// Table layout. Data columns are matched by name (case-insensitively, as MaxCompute names are):
// - Kafka metadata, when the table has them: `topic` (STRING/VARCHAR), `partition` (BIGINT/INT),
//   `offset` (BIGINT), `timestamp` (the record's timestamp: BIGINT epoch ms, DATETIME or
//   TIMESTAMP; NULL when the record has none) and `insert_time` (the wall clock of the batch's
//   conversion, same types; the Alibaba connector's column).
// - TEXT and BINARY: `key` and/or `value` take the key and value as the mode says (DEFAULT both,
//   KEY only the key, VALUE only the value); the other stays NULL.
// - CSV: the fields of the key or value fill the remaining data columns in index order.
// - JSON: the top-level keys of the key or value fill the remaining data columns by name (a key
//   naming a metadata column is an unknown key: metadata always comes from the record).
// Any other column is NULL. The table must be partitioned by exactly one column, `pt`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mcsink/convert/kafka_record.h"
#include "mcsink/convert/partition_value.h"
#include "mcsink/maxcompute/types.h"

namespace mcsink::convert {

enum class Mode { kDefault, kKey, kValue };
enum class Format { kText, kBinary, kCsv, kJson };

// Where the time that decides `pt` comes from.
enum class TimeSource {
  // The wall clock, read once per Convert call (the seed's and the Alibaba connector's
  // behaviour: a whole batch lands in one pt).
  kWallClock,
  // The record's own Kafka timestamp (CreateTime or LogAppendTime): the same record always gets
  // the same pt, which exactly-once replay needs.
  kRecordTime,
};

// What kRecordTime does with a record that has no timestamp (TimestampType::kNone or -1).
enum class MissingTimestampPolicy {
  kReject,        // the record fails with MISSING_TIMESTAMP (deterministic; the default)
  kUseWallClock,  // the batch's wall-clock time is used instead (not deterministic on replay)
};

// What JSON does with a top-level key that names no column.
enum class UnknownKeyPolicy { kReject, kIgnore };

struct ConverterOptions {
  std::string table_name;  // used in messages only ("table test_kafka has ...")
  Mode mode = Mode::kDefault;
  Format format = Format::kText;
  char csv_delimiter = ',';
  UnknownKeyPolicy json_unknown_keys = UnknownKeyPolicy::kReject;
  Granularity granularity = Granularity::kHour;
  PtFormat pt_format = PtFormat::kLegacy;
  // pt's time zone, and the zone in which CSV/JSON DATETIME and TIMESTAMP text without an offset
  // is read. See ParseTimeZone for the accepted spellings.
  std::string time_zone = "GMT+08:00";
  TimeSource time_source = TimeSource::kWallClock;
  MissingTimestampPolicy missing_timestamp = MissingTimestampPolicy::kReject;
  // The wall clock; absl::Now when empty. Tests inject a fixed time.
  std::function<absl::Time()> clock;
};

// Why a record could not be converted. Names (ErrorCodeName) are stable: they go into the error
// topic's headers and into metrics labels.
enum class ErrorCode {
  kInvalidUtf8,       // TEXT/CSV payload, or a STRING cell, is not valid UTF-8
  kNullPayload,       // CSV/JSON needs a key/value but the record's is null (e.g. a tombstone)
  kNullNotAllowed,    // NULL for a column declared NOT NULL
  kMissingTimestamp,  // time source is the record's timestamp but it has none
  kCellTooLarge,      // a cell above MaxCompute's 8 MiB limit
  kValueTooLong,      // more characters than VARCHAR(n)/CHAR(n) hold
  kCsvSyntax,         // bad quoting
  kCsvFieldCount,     // not as many fields as CSV columns
  kCsvParse,          // a field that does not parse as its column's type (or is out of range)
  kJsonParse,         // not valid JSON
  kJsonNotObject,     // valid JSON, but not an object at the top level
  kJsonDuplicateKey,  // two top-level keys name the same column
  kJsonUnknownKey,    // a top-level key names no column (UnknownKeyPolicy::kReject)
  kJsonType,          // a JSON value that cannot be stored in its column's type
};
std::string_view ErrorCodeName(ErrorCode code);  // "INVALID_UTF8", "CSV_FIELD_COUNT", ...

// The rows of one partition value, in input order.
struct PartitionRows {
  std::string pt;
  std::string data;                   // encoded records, concatenated
  std::vector<uint32_t> crcs;         // one per record: the CRCs a StreamTrailer takes
  std::vector<size_t> record_ends;    // end of each record in `data` (to cut blocks by size)
  std::vector<size_t> input_indices;  // index in the Convert input of each record
  size_t row_count() const { return crcs.size(); }
};

struct RecordError {
  size_t input_index = 0;  // index in the Convert input
  int64_t offset = 0;
  ErrorCode code = ErrorCode::kCsvParse;
  std::string column;   // the data column concerned; empty when the record as a whole is bad
  std::string message;  // for a person: what failed, on which input, what to do
};

struct ConvertedBatch {
  std::vector<PartitionRows> partitions;  // in order of first appearance
  std::vector<RecordError> errors;        // in input order
  size_t row_count() const;
  void Clear();
};

class Converter {
 public:
  // Checks that `schema` fits the options (the columns the mode and format need exist with types
  // they can be written as, columns that would always be NULL are nullable, the table is
  // partitioned by `pt`) and that the options are valid. InvalidArgument names the column or
  // option and says what to change.
  static absl::StatusOr<std::unique_ptr<Converter>> Create(maxcompute::TableSchema schema,
                                                           ConverterOptions options);
  ~Converter();
  Converter(const Converter&) = delete;
  Converter& operator=(const Converter&) = delete;

  // Converts `records`, replacing the contents of *out. Never fails as a whole: each record ends
  // up in out->partitions or out->errors. Not thread-safe (it reuses scratch buffers); use one
  // Converter per thread.
  void Convert(std::span<const KafkaRecordView> records, ConvertedBatch* out);

  const maxcompute::TableSchema& schema() const;
  const ConverterOptions& options() const;

 private:
  class Impl;
  explicit Converter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mcsink::convert
