#include "mcsink/convert/converter.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "cells.h"
#include "mcsink/common/status.h"
#include "mcsink/convert/csv.h"
#include "mcsink/maxcompute/record_encoder.h"
#include "mcsink/maxcompute/wire_format.h"
#include "simdjson.h"

namespace mcsink::convert {
namespace {

using internal::CellFailure;
using maxcompute::Column;
using maxcompute::RecordEncoder;
using maxcompute::TableSchema;
using maxcompute::Type;
using maxcompute::TypeKind;

// What fills a data column.
enum class Role : uint8_t {
  kNull,  // nothing: always NULL
  kTopic,
  kPartition,
  kOffset,
  kTimestamp,   // the record's timestamp
  kInsertTime,  // the batch's wall clock
  kKey,         // TEXT/BINARY: the key
  kValue,       // TEXT/BINARY: the value
  kPayload,     // CSV/JSON: a field of the key or value
};

// Debian's Abseil has its own string_view, which std::string_view does not convert to.
absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kDefault:
      return "DEFAULT";
    case Mode::kKey:
      return "KEY";
    case Mode::kValue:
      return "VALUE";
  }
  return "?";
}

const char* FormatName(Format format) {
  switch (format) {
    case Format::kText:
      return "TEXT";
    case Format::kBinary:
      return "BINARY";
    case Format::kCsv:
      return "CSV";
    case Format::kJson:
      return "JSON";
  }
  return "?";
}

bool IsOneOf(TypeKind kind, std::initializer_list<TypeKind> kinds) {
  return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

std::string KindsText(std::initializer_list<TypeKind> kinds) {
  std::vector<std::string> names;
  for (TypeKind k : kinds) names.push_back(Type{.kind = k}.ToString());
  return absl::StrJoin(names, ", ");
}

// Where a cell's text came from, for a failure message: "the record's key", "CSV field 3",
// "JSON key name". Kept as parts and joined only when a cell fails, so that the hot path (every
// cell of every record) builds no string.
struct CellSource {
  std::string_view what;
  std::string_view name = {};
  int number = -1;
  std::string Text() const {
    std::string text(what);
    if (!name.empty()) absl::StrAppend(&text, " ", AV(name));
    if (number >= 0) absl::StrAppend(&text, " ", number);
    return text;
  }
};

// Why a record failed: the ErrorCode, the data column (or -1) and the reason.
struct Failure {
  ErrorCode code = ErrorCode::kCsvParse;
  int column = -1;
  std::string message;
};

}  // namespace

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidUtf8:
      return "INVALID_UTF8";
    case ErrorCode::kNullPayload:
      return "NULL_PAYLOAD";
    case ErrorCode::kNullNotAllowed:
      return "NULL_NOT_ALLOWED";
    case ErrorCode::kMissingTimestamp:
      return "MISSING_TIMESTAMP";
    case ErrorCode::kCellTooLarge:
      return "CELL_TOO_LARGE";
    case ErrorCode::kValueTooLong:
      return "VALUE_TOO_LONG";
    case ErrorCode::kCsvSyntax:
      return "CSV_SYNTAX";
    case ErrorCode::kCsvFieldCount:
      return "CSV_FIELD_COUNT";
    case ErrorCode::kCsvParse:
      return "CSV_PARSE";
    case ErrorCode::kJsonParse:
      return "JSON_PARSE";
    case ErrorCode::kJsonNotObject:
      return "JSON_NOT_OBJECT";
    case ErrorCode::kJsonDuplicateKey:
      return "JSON_DUPLICATE_KEY";
    case ErrorCode::kJsonUnknownKey:
      return "JSON_UNKNOWN_KEY";
    case ErrorCode::kJsonType:
      return "JSON_TYPE";
  }
  return "UNKNOWN";
}

size_t ConvertedBatch::row_count() const {
  size_t n = 0;
  for (const PartitionRows& p : partitions) n += p.row_count();
  return n;
}

void ConvertedBatch::Clear() {
  partitions.clear();
  errors.clear();
}

class Converter::Impl {
 public:
  Impl(TableSchema schema, ConverterOptions options, absl::TimeZone zone)
      : schema_(std::move(schema)),
        options_(std::move(options)),
        zone_(zone),
        formatter_(options_.granularity, options_.pt_format, zone_),
        splitter_(options_.csv_delimiter) {
    if (!options_.clock) options_.clock = [] { return absl::Now(); };
    suffix_ = absl::StrCat(" (mode ", ModeName(options_.mode), ", format ",
                           FormatName(options_.format), ")");
  }

  absl::Status Plan();
  void Convert(std::span<const KafkaRecordView> records, ConvertedBatch* out);

  const TableSchema& schema() const { return schema_; }
  const ConverterOptions& options() const { return options_; }

 private:
  void ReserveFor(std::span<const KafkaRecordView> records, PartitionRows* rows) const;
  bool EncodeRecord(const KafkaRecordView& rec, RecordEncoder* enc, Failure* failure);
  bool EncodeText(const KafkaRecordView& rec, RecordEncoder* enc, Failure* failure);
  bool EncodeCsv(const KafkaRecordView& rec, std::string_view payload, RecordEncoder* enc,
                 Failure* failure);
  bool EncodeJson(const KafkaRecordView& rec, std::string_view payload, RecordEncoder* enc,
                  Failure* failure);
  // Topic, partition, offset, timestamp or insert time into column `c`.
  bool WriteMetadata(int c, const KafkaRecordView& rec, RecordEncoder* enc, Failure* failure);
  bool WriteInstant(int c, absl::Time t, RecordEncoder* enc);
  bool WriteNull(int c, std::string_view what, Failure* failure);
  bool WriteText(int c, std::string_view text, RecordEncoder* enc, ErrorCode parse_code,
                 const CellSource& source, Failure* failure);
  bool WriteJsonValue(int c, simdjson::dom::element value, RecordEncoder* enc, Failure* failure);
  std::string ColumnText(int c) const {
    return absl::StrCat("column ", schema_.columns[static_cast<size_t>(c)].name, " ",
                        schema_.columns[static_cast<size_t>(c)].type.ToString());
  }
  const char* PayloadName() const { return options_.mode == Mode::kKey ? "key" : "value"; }
  absl::Time Now() {
    if (!batch_now_) batch_now_ = options_.clock();
    return *batch_now_;
  }
  std::string PayloadColumnsText() const;

  TableSchema schema_;
  ConverterOptions options_;
  absl::TimeZone zone_;
  PartitionValueFormatter formatter_;
  std::vector<Role> roles_;           // per data column
  std::vector<int> payload_columns_;  // data columns with Role::kPayload, in order
  std::vector<std::string> metadata_names_;
  absl::flat_hash_map<std::string, int> json_columns_;  // lower-case name -> data column
  std::string suffix_;                                  // " (mode VALUE, format CSV)"
  std::optional<absl::Time> batch_now_;  // the wall clock, read at most once per batch

  // Scratch, reused across records.
  CsvSplitter splitter_;
  std::vector<CsvField> fields_;
  std::string split_error_;
  std::string decimal_scratch_;
  std::string json_buffer_;  // the payload with simdjson's padding
  std::string json_text_;    // a nested value as JSON text
  std::string lower_key_;
  std::string why_;
  simdjson::dom::parser json_parser_;
  simdjson::dom::parser json_validator_;
  std::vector<simdjson::dom::element> json_slots_;  // per data column
  std::vector<uint64_t> json_seen_;                 // per data column: generation last set
  uint64_t json_generation_ = 0;
};

absl::Status Converter::Impl::Plan() {
  const std::string table =
      options_.table_name.empty() ? std::string("the table") : "table " + options_.table_name;
  const bool text_like = options_.format == Format::kText || options_.format == Format::kBinary;
  if (!text_like && options_.mode == Mode::kDefault) {
    return absl::InvalidArgumentError(
        absl::StrCat("format ", FormatName(options_.format),
                     " needs mode KEY or VALUE: DEFAULT keeps both key and value, and only one of "
                     "them can be split into columns"));
  }
  if (options_.format == Format::kCsv) {
    const char d = options_.csv_delimiter;
    if (d == '"' || d == '\n' || d == '\r' || d == '\0') {
      return absl::InvalidArgumentError(
          "csv_delimiter may not be a quote, a line break or NUL; use e.g. ',', ';', '|' or tab");
    }
  }
  if (schema_.partition_columns.size() != 1 || ToLower(schema_.partition_columns[0].name) != "pt") {
    std::vector<std::string> names;
    for (const Column& c : schema_.partition_columns) names.push_back(c.name);
    return absl::InvalidArgumentError(absl::StrCat(
        table, " must be partitioned by exactly one column, pt STRING (it is partitioned by [",
        absl::StrJoin(names, ", "), "]); create it with PARTITIONED BY (pt STRING)"));
  }
  if (!IsOneOf(schema_.partition_columns[0].type.kind,
               {TypeKind::kString, TypeKind::kVarchar, TypeKind::kChar})) {
    return absl::InvalidArgumentError(absl::StrCat(
        table, ": partition column pt is ", schema_.partition_columns[0].type.ToString(),
        " but the partition value is text such as \"11-17-2020 15\"; declare it pt STRING"));
  }
  if (schema_.columns.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(table, " has no data columns"));
  }
  if (schema_.columns.size() > static_cast<size_t>(maxcompute::wire::kMaxColumns)) {
    return absl::InvalidArgumentError(absl::StrCat(table, " has too many data columns"));
  }

  roles_.assign(schema_.columns.size(), Role::kNull);
  for (size_t i = 0; i < schema_.columns.size(); ++i) {
    const Column& col = schema_.columns[i];
    const std::string name = ToLower(col.name);
    const TypeKind kind = col.type.kind;
    auto require = [&](std::initializer_list<TypeKind> kinds, std::string_view holds) {
      if (IsOneOf(kind, kinds)) return absl::OkStatus();
      return absl::InvalidArgumentError(absl::StrCat(
          table, ": column ", col.name, " is ", col.type.ToString(), " but it holds ", AV(holds),
          " and must be one of ", KindsText(kinds), "; change its type or rename the column"));
    };
    Role role = Role::kNull;
    if (name == "topic") {
      MCSINK_RETURN_IF_ERROR(
          require({TypeKind::kString, TypeKind::kVarchar, TypeKind::kChar}, "the Kafka topic"));
      role = Role::kTopic;
    } else if (name == "partition") {
      MCSINK_RETURN_IF_ERROR(
          require({TypeKind::kBigint, TypeKind::kInt}, "the Kafka partition number"));
      role = Role::kPartition;
    } else if (name == "offset") {
      MCSINK_RETURN_IF_ERROR(require({TypeKind::kBigint}, "the Kafka offset"));
      role = Role::kOffset;
    } else if (name == "timestamp" || name == "insert_time") {
      MCSINK_RETURN_IF_ERROR(require({TypeKind::kBigint, TypeKind::kDatetime, TypeKind::kTimestamp},
                                     name == "timestamp"
                                         ? "the Kafka record's timestamp (epoch milliseconds)"
                                         : "the conversion time (epoch milliseconds)"));
      role = name == "timestamp" ? Role::kTimestamp : Role::kInsertTime;
    } else if (text_like && (name == "key" || name == "value")) {
      const bool wanted =
          options_.mode == Mode::kDefault || (name == "key") == (options_.mode == Mode::kKey);
      if (wanted) {
        if (options_.format == Format::kText) {
          MCSINK_RETURN_IF_ERROR(
              require({TypeKind::kString, TypeKind::kVarchar, TypeKind::kChar, TypeKind::kJson},
                      absl::StrCat("the record's ", AV(name), " as text")));
        } else {
          MCSINK_RETURN_IF_ERROR(require({TypeKind::kString, TypeKind::kBinary},
                                         absl::StrCat("the record's ", AV(name), " as bytes")));
        }
        role = name == "key" ? Role::kKey : Role::kValue;
      }
    } else if (!text_like) {
      role = Role::kPayload;
    }
    if (role != Role::kNull && role != Role::kKey && role != Role::kValue &&
        role != Role::kPayload) {
      metadata_names_.push_back(col.name);
    }
    if (role == Role::kNull && !col.nullable) {
      return absl::InvalidArgumentError(
          absl::StrCat(table, ": column ", col.name, " is NOT NULL but mode ",
                       ModeName(options_.mode), " with format ", FormatName(options_.format),
                       " never writes it; make it nullable or pick a mode that fills it"));
    }
    roles_[i] = role;
    if (role == Role::kPayload) {
      payload_columns_.push_back(static_cast<int>(i));
      if (options_.format == Format::kJson) {
        if (!json_columns_.emplace(name, static_cast<int>(i)).second) {
          return absl::InvalidArgumentError(
              absl::StrCat(table, ": columns named ", col.name,
                           " differ only in case, so JSON keys cannot "
                           "be matched to them"));
        }
      }
    }
  }
  if (text_like) {
    auto has = [&](Role r) { return std::find(roles_.begin(), roles_.end(), r) != roles_.end(); };
    if (options_.mode != Mode::kValue && !has(Role::kKey)) {
      return absl::InvalidArgumentError(
          absl::StrCat(table, " has no column key, which mode ", ModeName(options_.mode),
                       " writes the record's key to; add key STRING"));
    }
    if (options_.mode != Mode::kKey && !has(Role::kValue)) {
      return absl::InvalidArgumentError(
          absl::StrCat(table, " has no column value, which mode ", ModeName(options_.mode),
                       " writes the record's value to; add value STRING"));
    }
  } else if (payload_columns_.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(table, " has no columns for the ", FormatName(options_.format),
                     " fields: all its columns (", absl::StrJoin(metadata_names_, ", "),
                     ") are Kafka metadata columns"));
  }
  json_slots_.resize(schema_.columns.size());
  json_seen_.assign(schema_.columns.size(), 0);
  return absl::OkStatus();
}

std::string Converter::Impl::PayloadColumnsText() const {
  constexpr size_t kMaxNames = 8;
  std::vector<absl::string_view> names;
  for (size_t i = 0; i < payload_columns_.size() && i < kMaxNames; ++i) {
    names.push_back(schema_.columns[static_cast<size_t>(payload_columns_[i])].name);
  }
  std::string text = absl::StrJoin(names, ", ");
  if (payload_columns_.size() > kMaxNames) absl::StrAppend(&text, ", ...");
  return text;
}

void Converter::Impl::Convert(std::span<const KafkaRecordView> records, ConvertedBatch* out) {
  out->Clear();
  batch_now_.reset();
  size_t current = 0;  // index of the last group used: consecutive records share a pt
  for (size_t i = 0; i < records.size(); ++i) {
    const KafkaRecordView& rec = records[i];
    absl::Time t;
    if (options_.time_source == TimeSource::kWallClock) {
      t = Now();
    } else if (rec.has_timestamp()) {
      t = absl::FromUnixMillis(rec.timestamp_ms);
    } else if (options_.missing_timestamp == MissingTimestampPolicy::kUseWallClock) {
      t = Now();
    } else {
      out->errors.push_back(
          {i, rec.offset, ErrorCode::kMissingTimestamp, "",
           absl::StrCat("the record has no timestamp, and pt comes from record timestamps; "
                        "produce with timestamps (Kafka >= 0.10) or set the missing-timestamp "
                        "policy to use the wall clock",
                        suffix_)});
      continue;
    }
    const std::string_view pt = formatter_.Format(t);
    if (current >= out->partitions.size() || out->partitions[current].pt != pt) {
      current = 0;
      while (current < out->partitions.size() && out->partitions[current].pt != pt) ++current;
      if (current == out->partitions.size()) {
        PartitionRows& added = out->partitions.emplace_back();
        added.pt = std::string(pt);
        if (current == 0) ReserveFor(records.subspan(i), &added);
      }
    }
    PartitionRows& group = out->partitions[current];
    const size_t start = group.data.size();
    RecordEncoder enc(&group.data);
    Failure failure;
    if (EncodeRecord(rec, &enc, &failure)) {
      group.crcs.push_back(enc.EndRecord());
      group.record_ends.push_back(group.data.size());
      group.input_indices.push_back(i);
    } else {
      // The encoder has no abort: end the partial record and cut it off again.
      enc.EndRecord();
      group.data.resize(start);
      RecordError& e = out->errors.emplace_back();
      e.input_index = i;
      e.offset = rec.offset;
      e.code = failure.code;
      if (failure.column >= 0) {
        e.column = schema_.columns[static_cast<size_t>(failure.column)].name;
      }
      e.message = std::move(failure.message);
      e.message.append(suffix_);
    }
  }
  // A pt whose every record failed holds nothing to write.
  std::erase_if(out->partitions, [](const PartitionRows& p) { return p.crcs.empty(); });
}

// Most batches land in one pt: size the first group's buffers for the whole batch up front, so
// they are not copied while growing. Later groups (a batch across an hour) grow on demand.
void Converter::Impl::ReserveFor(std::span<const KafkaRecordView> records,
                                 PartitionRows* rows) const {
  // Per record: the payload, the topic, and up to ~16 bytes of tags and numbers per column.
  size_t bytes = 0;
  for (const KafkaRecordView& r : records) {
    bytes += r.topic.size() + (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0) +
             16 * roles_.size();
  }
  rows->data.reserve(bytes);
  rows->crcs.reserve(records.size());
  rows->record_ends.reserve(records.size());
  rows->input_indices.reserve(records.size());
}

bool Converter::Impl::EncodeRecord(const KafkaRecordView& rec, RecordEncoder* enc,
                                   Failure* failure) {
  switch (options_.format) {
    case Format::kText:
    case Format::kBinary:
      return EncodeText(rec, enc, failure);
    case Format::kCsv:
    case Format::kJson: {
      const std::optional<std::string_view>& payload =
          options_.mode == Mode::kKey ? rec.key : rec.value;
      if (!payload.has_value()) {
        failure->code = ErrorCode::kNullPayload;
        failure->message = absl::StrCat("the record's ", PayloadName(),
                                        " is null (a tombstone?), so there are no ",
                                        FormatName(options_.format), " fields to write");
        return false;
      }
      return options_.format == Format::kCsv ? EncodeCsv(rec, *payload, enc, failure)
                                             : EncodeJson(rec, *payload, enc, failure);
    }
  }
  return false;
}

bool Converter::Impl::WriteNull(int c, std::string_view what, Failure* failure) {
  if (schema_.columns[static_cast<size_t>(c)].nullable) return true;
  failure->code = ErrorCode::kNullNotAllowed;
  failure->column = c;
  failure->message =
      absl::StrCat(ColumnText(c), " is NOT NULL but ", AV(what), "; make the column nullable");
  return false;
}

bool Converter::Impl::WriteInstant(int c, absl::Time t, RecordEncoder* enc) {
  const Type& type = schema_.columns[static_cast<size_t>(c)].type;
  switch (type.kind) {
    case TypeKind::kDatetime:
      enc->WriteDatetime(c, absl::ToUnixMillis(t));
      return true;
    case TypeKind::kTimestamp: {
      const int64_t nanos = absl::ToUnixNanos(t);
      int64_t seconds = nanos / 1'000'000'000;
      int64_t rest = nanos % 1'000'000'000;
      if (rest < 0) {
        rest += 1'000'000'000;
        --seconds;
      }
      enc->WriteTimestamp(c, seconds, static_cast<int32_t>(rest));
      return true;
    }
    default:
      enc->WriteInteger(c, absl::ToUnixMillis(t));
      return true;
  }
}

bool Converter::Impl::WriteMetadata(int c, const KafkaRecordView& rec, RecordEncoder* enc,
                                    Failure* failure) {
  switch (roles_[static_cast<size_t>(c)]) {
    case Role::kTopic:
      return WriteText(c, rec.topic, enc, ErrorCode::kInvalidUtf8, {"the topic"}, failure);
    case Role::kPartition:
      enc->WriteInteger(c, rec.partition);
      return true;
    case Role::kOffset:
      enc->WriteInteger(c, rec.offset);
      return true;
    case Role::kTimestamp:
      if (!rec.has_timestamp()) return WriteNull(c, "the record has no timestamp", failure);
      return WriteInstant(c, absl::FromUnixMillis(rec.timestamp_ms), enc);
    case Role::kInsertTime:
      return WriteInstant(c, Now(), enc);
    case Role::kNull:
      return WriteNull(c, "nothing fills it", failure);
    default:
      return true;
  }
}

bool Converter::Impl::WriteText(int c, std::string_view text, RecordEncoder* enc,
                                ErrorCode parse_code, const CellSource& source, Failure* failure) {
  internal::CellContext ctx{zone_, &json_validator_, &decimal_scratch_};
  CellFailure kind;
  if (internal::WriteTextCell(schema_.columns[static_cast<size_t>(c)].type, c, text, ctx, enc,
                              &kind, &why_)) {
    return true;
  }
  switch (kind) {
    case CellFailure::kParse:
      failure->code = parse_code;
      break;
    case CellFailure::kTooLong:
      failure->code = ErrorCode::kValueTooLong;
      break;
    case CellFailure::kTooLarge:
      failure->code = ErrorCode::kCellTooLarge;
      break;
    case CellFailure::kInvalidJson:
      failure->code = ErrorCode::kJsonParse;
      break;
  }
  failure->column = c;
  failure->message = absl::StrCat(ColumnText(c), ": ", source.Text(), " ", why_);
  return false;
}

bool Converter::Impl::EncodeText(const KafkaRecordView& rec, RecordEncoder* enc, Failure* failure) {
  for (int c = 0; c < static_cast<int>(roles_.size()); ++c) {
    const Role role = roles_[static_cast<size_t>(c)];
    if (role != Role::kKey && role != Role::kValue) {
      if (!WriteMetadata(c, rec, enc, failure)) return false;
      continue;
    }
    const std::optional<std::string_view>& payload = role == Role::kKey ? rec.key : rec.value;
    const std::string_view name = role == Role::kKey ? "key" : "value";
    if (!payload.has_value()) {
      if (!WriteNull(c, absl::StrCat("the record's ", AV(name), " is null"), failure)) return false;
      continue;
    }
    if (options_.format == Format::kText &&
        !simdjson::validate_utf8(payload->data(), payload->size())) {
      failure->code = ErrorCode::kInvalidUtf8;
      failure->column = c;
      failure->message =
          absl::StrCat("the record's ", AV(name), " ", internal::QuoteForMessage(*payload),
                       " is not valid UTF-8; use format BINARY to keep bytes as "
                       "they are");
      return false;
    }
    if (!WriteText(c, *payload, enc, ErrorCode::kJsonParse,
                   {role == Role::kKey ? "the record's key" : "the record's value"}, failure)) {
      return false;
    }
  }
  return true;
}

bool Converter::Impl::EncodeCsv(const KafkaRecordView& rec, std::string_view payload,
                                RecordEncoder* enc, Failure* failure) {
  if (!simdjson::validate_utf8(payload.data(), payload.size())) {
    failure->code = ErrorCode::kInvalidUtf8;
    failure->message = absl::StrCat("the CSV ", PayloadName(), " ",
                                    internal::QuoteForMessage(payload), " is not valid UTF-8");
    return false;
  }
  if (!splitter_.Split(payload, &fields_, &split_error_)) {
    failure->code = ErrorCode::kCsvSyntax;
    failure->message =
        absl::StrCat("the CSV ", PayloadName(), " ", internal::QuoteForMessage(payload),
                     " is malformed: ", split_error_);
    return false;
  }
  if (fields_.size() != payload_columns_.size()) {
    const std::string table =
        options_.table_name.empty() ? std::string("the table") : "table " + options_.table_name;
    failure->code = ErrorCode::kCsvFieldCount;
    failure->message = absl::StrCat(
        table, " has ", payload_columns_.size(), " CSV columns (", PayloadColumnsText(), ")",
        metadata_names_.empty()
            ? std::string()
            : absl::StrCat(" besides the Kafka columns ", absl::StrJoin(metadata_names_, ", ")),
        " but the CSV ", PayloadName(), " has ", fields_.size(),
        fields_.size() == 1 ? " field" : " fields",
        options_.csv_delimiter == ','
            ? std::string()
            : absl::StrCat(" split at '", std::string(1, options_.csv_delimiter), "'"));
    return false;
  }
  size_t field = 0;
  for (int c = 0; c < static_cast<int>(roles_.size()); ++c) {
    if (roles_[static_cast<size_t>(c)] != Role::kPayload) {
      if (!WriteMetadata(c, rec, enc, failure)) return false;
      continue;
    }
    const CsvField& f = fields_[field++];
    if (f.is_null()) {
      if (!WriteNull(c, absl::StrCat("CSV field ", field, " is \\N (NULL)"), failure)) {
        return false;
      }
      continue;
    }
    if (!WriteText(c, f.text, enc, ErrorCode::kCsvParse,
                   {.what = "CSV field", .number = static_cast<int>(field)}, failure)) {
      return false;
    }
  }
  return true;
}

bool Converter::Impl::WriteJsonValue(int c, simdjson::dom::element value, RecordEncoder* enc,
                                     Failure* failure) {
  const Type& type = schema_.columns[static_cast<size_t>(c)].type;
  const CellSource source{.what = "JSON key", .name = schema_.columns[static_cast<size_t>(c)].name};
  if (type.kind == TypeKind::kJson) {
    // A JSON column stores any JSON value, as JSON text.
    json_text_ = simdjson::minify(value);
    return WriteText(c, json_text_, enc, ErrorCode::kJsonType, source, failure);
  }
  char buf[64];
  std::string_view text;
  switch (value.type()) {
    case simdjson::dom::element_type::STRING:
      text = std::string_view(value.get_string().value_unsafe());
      break;
    case simdjson::dom::element_type::INT64: {
      const auto r = std::to_chars(buf, buf + sizeof(buf), value.get_int64().value_unsafe());
      text = std::string_view(buf, static_cast<size_t>(r.ptr - buf));
      break;
    }
    case simdjson::dom::element_type::UINT64: {
      const auto r = std::to_chars(buf, buf + sizeof(buf), value.get_uint64().value_unsafe());
      text = std::string_view(buf, static_cast<size_t>(r.ptr - buf));
      break;
    }
    case simdjson::dom::element_type::DOUBLE: {
      // Shortest text that reads back as the same double, so DOUBLE columns get it exactly.
      const auto r = std::to_chars(buf, buf + sizeof(buf), value.get_double().value_unsafe());
      text = std::string_view(buf, static_cast<size_t>(r.ptr - buf));
      break;
    }
    case simdjson::dom::element_type::BOOL:
      text = value.get_bool().value_unsafe() ? "true" : "false";
      break;
    case simdjson::dom::element_type::ARRAY:
    case simdjson::dom::element_type::OBJECT:
      if (!IsOneOf(type.kind,
                   {TypeKind::kString, TypeKind::kVarchar, TypeKind::kChar, TypeKind::kBinary})) {
        failure->code = ErrorCode::kJsonType;
        failure->column = c;
        failure->message = absl::StrCat(
            ColumnText(c), ": ", source.Text(), " is a JSON ",
            value.type() == simdjson::dom::element_type::ARRAY ? "array" : "object",
            ", which only a STRING, VARCHAR, CHAR, BINARY or JSON column can hold (as JSON text)");
        return false;
      }
      json_text_ = simdjson::minify(value);
      text = json_text_;
      break;
    case simdjson::dom::element_type::NULL_VALUE:
      return WriteNull(c, absl::StrCat(source.Text(), " is null"), failure);
  }
  return WriteText(c, text, enc, ErrorCode::kJsonType, source, failure);
}

bool Converter::Impl::EncodeJson(const KafkaRecordView& rec, std::string_view payload,
                                 RecordEncoder* enc, Failure* failure) {
  // simdjson reads up to SIMDJSON_PADDING bytes past the end: parse a padded copy.
  json_buffer_.assign(payload.data(), payload.size());
  json_buffer_.append(simdjson::SIMDJSON_PADDING, '\0');
  simdjson::dom::element doc;
  const simdjson::error_code error =
      json_parser_.parse(json_buffer_.data(), payload.size(), false).get(doc);
  if (error != simdjson::SUCCESS) {
    failure->code = ErrorCode::kJsonParse;
    failure->message =
        absl::StrCat("the JSON ", PayloadName(), " ", internal::QuoteForMessage(payload),
                     " is not valid JSON (", simdjson::error_message(error), ")");
    return false;
  }
  simdjson::dom::object object;
  if (doc.get(object) != simdjson::SUCCESS) {
    failure->code = ErrorCode::kJsonNotObject;
    failure->message =
        absl::StrCat("the JSON ", PayloadName(), " ", internal::QuoteForMessage(payload),
                     " is not an object; its top-level keys name the columns");
    return false;
  }
  ++json_generation_;
  for (const simdjson::dom::key_value_pair field : object) {
    lower_key_.assign(field.key.data(), field.key.size());
    for (char& ch : lower_key_) {
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    }
    const auto it = json_columns_.find(absl::string_view(lower_key_));
    if (it == json_columns_.end()) {
      if (options_.json_unknown_keys == UnknownKeyPolicy::kIgnore) continue;
      failure->code = ErrorCode::kJsonUnknownKey;
      failure->message =
          absl::StrCat("the JSON ", PayloadName(), " has key ",
                       internal::QuoteForMessage(field.key), ", which names no column of ",
                       options_.table_name.empty() ? std::string("the table") : options_.table_name,
                       " (columns: ", PayloadColumnsText(),
                       "); add the column or set unknown JSON keys to be ignored");
      return false;
    }
    const size_t c = static_cast<size_t>(it->second);
    if (json_seen_[c] == json_generation_) {
      failure->code = ErrorCode::kJsonDuplicateKey;
      failure->column = it->second;
      failure->message =
          absl::StrCat("the JSON ", PayloadName(), " has more than one key for column ",
                       schema_.columns[c].name, " (keys match columns case-insensitively)");
      return false;
    }
    json_seen_[c] = json_generation_;
    json_slots_[c] = field.value;
  }
  for (int c = 0; c < static_cast<int>(roles_.size()); ++c) {
    const size_t i = static_cast<size_t>(c);
    if (roles_[i] != Role::kPayload) {
      if (!WriteMetadata(c, rec, enc, failure)) return false;
      continue;
    }
    if (json_seen_[i] != json_generation_) {
      if (!WriteNull(
              c, absl::StrCat("the JSON ", PayloadName(), " has no key ", schema_.columns[i].name),
              failure)) {
        return false;
      }
      continue;
    }
    if (!WriteJsonValue(c, json_slots_[i], enc, failure)) return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<Converter>> Converter::Create(TableSchema schema,
                                                             ConverterOptions options) {
  MCSINK_ASSIGN_OR_RETURN(absl::TimeZone zone, ParseTimeZone(options.time_zone));
  auto impl = std::make_unique<Impl>(std::move(schema), std::move(options), zone);
  MCSINK_RETURN_IF_ERROR(impl->Plan());
  return std::unique_ptr<Converter>(new Converter(std::move(impl)));
}

Converter::Converter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Converter::~Converter() = default;

void Converter::Convert(std::span<const KafkaRecordView> records, ConvertedBatch* out) {
  impl_->Convert(records, out);
}

const TableSchema& Converter::schema() const { return impl_->schema(); }
const ConverterOptions& Converter::options() const { return impl_->options(); }

}  // namespace mcsink::convert
