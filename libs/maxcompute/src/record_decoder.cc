#include "mcsink/maxcompute/record_decoder.h"

#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace mcsink::maxcompute {
namespace {

enum class VarintStatus { kOk, kTruncated, kOverlong };

// Reads a varint of at most 10 bytes at *p, advancing it.
inline VarintStatus ReadVarint64(const char*& p, const char* end, uint64_t* out) {
  if (p != end && static_cast<uint8_t>(*p) < 0x80) {  // one-byte values dominate
    *out = static_cast<uint8_t>(*p++);
    return VarintStatus::kOk;
  }
  uint64_t result = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p == end) return VarintStatus::kTruncated;
    const uint8_t byte = static_cast<uint8_t>(*p++);
    if (shift == 63 && byte > 1) return VarintStatus::kOverlong;
    result |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if (byte < 0x80) {
      *out = result;
      return VarintStatus::kOk;
    }
  }
  return VarintStatus::kOverlong;
}

// Narrows a varint read for a uint32 (the record, metrics and stream CRCs). Java writes these in
// 1-5 bytes, but pyodps's C writer passes the CRC as a signed int, so CRCs >= 2^31 arrive
// sign-extended in 10 bytes; protobuf readers (the real server's) accept both, and so do we.
// Any other value above 32 bits is malformed.
inline bool NarrowUint32(uint64_t v, uint32_t* out) {
  const uint64_t high = v >> 32;
  if (high != 0 && !(high == 0xFFFFFFFF && (v & 0x80000000) != 0)) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

const char* WireTypeName(uint64_t wire_type) {
  switch (wire_type) {
    case wire::kVarint:
      return "0 (varint)";
    case wire::kFixed64:
      return "1 (fixed64)";
    case wire::kLengthDelimited:
      return "2 (length-delimited)";
    case wire::kFixed32:
      return "5 (fixed32)";
    default:
      return "unknown";
  }
}

inline void StoreBytes(Value& cell, const char* data, size_t size) {
  // Reuses the string's buffer when the row is reused and the column held a string before.
  if (std::string* s = std::get_if<std::string>(&cell)) {
    s->assign(data, size);
  } else {
    cell.emplace<std::string>(data, size);
  }
}

}  // namespace

RecordStreamReader::RecordStreamReader(const TableSchema& schema, std::string_view stream,
                                       DecodeOptions options)
    : schema_(schema),
      options_(options),
      begin_(stream.data()),
      pos_(stream.data()),
      end_(stream.data() + stream.size()),
      seen_(schema.columns.size(), false) {}

absl::Status RecordStreamReader::Fail(absl::Status status) {
  error_ = std::move(status);
  return error_;
}

std::string RecordStreamReader::ColumnContext(int column) const {
  const Column& c = schema_.columns[static_cast<size_t>(column)];
  return absl::StrCat("record ", records_, ", column ", column, " '", c.name, "' (",
                      c.type.ToString(), ")");
}

absl::Status RecordStreamReader::Truncated(std::string_view what) const {
  if (begin_ == end_) {
    return absl::DataLossError(
        "record stream is empty: even a stream of 0 records has a 10-byte trailer");
  }
  return absl::DataLossError(absl::StrCat("record stream is truncated: its ", end_ - begin_,
                                          " bytes end inside ",
                                          absl::string_view(what.data(), what.size()),
                                          " (was the body cut short, or is it still compressed?)"));
}

absl::StatusOr<bool> RecordStreamReader::Next(Row* row) {
  if (!error_.ok()) return error_;
  if (done_) return false;

  const size_t columns = schema_.columns.size();
  row->resize(columns);
  seen_.assign(columns, false);
  bool any_field = false;
  Crc32c crc;
  while (true) {
    uint64_t tag = 0;
    const size_t tag_offset = bytes_read();
    switch (ReadVarint64(pos_, end_, &tag)) {
      case VarintStatus::kOk:
        break;
      case VarintStatus::kTruncated:
        return Fail(Truncated(absl::StrCat("the tag at offset ", tag_offset, " (record ", records_,
                                           any_field ? ")" : " or the trailer)")));
      case VarintStatus::kOverlong:
        return Fail(absl::InvalidArgumentError(
            absl::StrCat("record ", records_, ": malformed tag varint at offset ", tag_offset)));
    }
    const uint64_t field = tag >> 3;
    const uint64_t wire_type = tag & 7;

    if (field == wire::kMetaCountField && wire_type == wire::kVarint) {
      if (any_field) {
        return Fail(absl::DataLossError(absl::StrCat(
            "record ", records_, " has fields but no END_RECORD before the trailer at offset ",
            tag_offset)));
      }
      if (absl::Status s = ReadTrailer(); !s.ok()) return Fail(std::move(s));
      done_ = true;
      return false;
    }
    if (!any_field && options_.max_records && records_ >= *options_.max_records) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(
          "record stream has more than the allowed ", *options_.max_records, " records")));
    }
    if (field == wire::kEndRecordField && wire_type == wire::kVarint) {
      uint64_t written = 0;
      switch (ReadVarint64(pos_, end_, &written)) {
        case VarintStatus::kOk:
          break;
        case VarintStatus::kTruncated:
          return Fail(Truncated(absl::StrCat("the CRC of record ", records_)));
        case VarintStatus::kOverlong:
          return Fail(absl::InvalidArgumentError(
              absl::StrCat("record ", records_, ": malformed CRC varint")));
      }
      uint32_t written32 = 0;
      if (!NarrowUint32(written, &written32)) {
        return Fail(absl::InvalidArgumentError(
            absl::StrFormat("record %d: CRC varint 0x%x does not fit 32 bits", records_, written)));
      }
      if (written32 != crc.value()) {
        return Fail(absl::DataLossError(absl::StrFormat(
            "record %d: CRC mismatch, the stream says 0x%08x but the record's fields give 0x%08x",
            records_, written32, crc.value())));
      }
      for (size_t i = 0; i < columns; ++i) {
        if (!seen_[i]) (*row)[i] = std::monostate{};
      }
      stream_crc_.UpdateInt32(static_cast<int32_t>(crc.value()));
      ++records_;
      return true;
    }
    if (field == 0 || field > columns) {
      return Fail(absl::InvalidArgumentError(absl::StrFormat(
          "record %d: field number %d (wire type %d) at offset %d is not a column: the schema has "
          "%d data columns (field numbers 1..%d); is the upload using a different schema?",
          records_, field, wire_type, tag_offset, columns, columns)));
    }
    any_field = true;
    if (absl::Status s = ReadField(static_cast<uint32_t>(tag), row, &crc); !s.ok()) {
      return Fail(std::move(s));
    }
  }
}

absl::Status RecordStreamReader::ReadField(uint32_t tag, Row* row, Crc32c* crc) {
  const int column = static_cast<int>(tag >> 3) - 1;
  const uint32_t wire_type = tag & 7;
  const Type& type = schema_.columns[static_cast<size_t>(column)].type;
  const wire::WireType expected = wire::WireTypeOf(type.kind);
  if (wire_type != expected) {
    return absl::InvalidArgumentError(absl::StrCat(ColumnContext(column), ": wire type ",
                                                   WireTypeName(wire_type), ", expected ",
                                                   WireTypeName(expected)));
  }
  if (seen_[static_cast<size_t>(column)]) {
    return absl::InvalidArgumentError(
        absl::StrCat(ColumnContext(column), ": column appears twice in the record"));
  }
  seen_[static_cast<size_t>(column)] = true;
  Value& cell = (*row)[static_cast<size_t>(column)];

  // Reads a varint of this field or returns the error naming the column.
  auto varint = [&](uint64_t* out) -> absl::Status {
    switch (ReadVarint64(pos_, end_, out)) {
      case VarintStatus::kOk:
        return absl::OkStatus();
      case VarintStatus::kTruncated:
        return Truncated(ColumnContext(column));
      case VarintStatus::kOverlong:
        break;
    }
    return absl::InvalidArgumentError(absl::StrCat(ColumnContext(column), ": malformed varint"));
  };
  auto fixed = [&](void* out, size_t size) -> absl::Status {
    if (static_cast<size_t>(end_ - pos_) < size) return Truncated(ColumnContext(column));
    std::memcpy(out, pos_, size);
    pos_ += size;
    return absl::OkStatus();
  };
  // The CRC input of a fixed-width value: int32 LE field number, then the value's bytes.
  auto crc_fixed = [&](const void* value, size_t size) {
    char buf[16];
    const int32_t field = column + 1;
    std::memcpy(buf, &field, 4);
    std::memcpy(buf + 4, value, size);
    crc->Update(buf, 4 + size);
  };

  switch (type.kind) {
    case TypeKind::kBigint:
    case TypeKind::kInt:
    case TypeKind::kSmallint:
    case TypeKind::kTinyint:
    case TypeKind::kDate:
    case TypeKind::kDatetime: {
      uint64_t raw = 0;
      if (absl::Status s = varint(&raw); !s.ok()) return s;
      const int64_t v = wire::ZigZagDecode64(raw);
      if (!IntegerFitsKind(type.kind, v)) {
        return absl::InvalidArgumentError(
            absl::StrCat(ColumnContext(column), ": value ", v, " is out of range"));
      }
      crc_fixed(&v, 8);
      if (type.kind == TypeKind::kDate) {
        cell = Date{v};
      } else if (type.kind == TypeKind::kDatetime) {
        cell = Datetime{v};
      } else {
        cell = v;
      }
      return absl::OkStatus();
    }
    case TypeKind::kBoolean: {
      uint64_t raw = 0;
      if (absl::Status s = varint(&raw); !s.ok()) return s;
      if (raw > 1) {
        return absl::InvalidArgumentError(
            absl::StrCat(ColumnContext(column), ": BOOLEAN encoded as ", raw, ", expected 0 or 1"));
      }
      const char byte = static_cast<char>(raw);
      crc_fixed(&byte, 1);
      cell = raw == 1;
      return absl::OkStatus();
    }
    case TypeKind::kDouble: {
      double v = 0;
      if (absl::Status s = fixed(&v, 8); !s.ok()) return s;
      crc_fixed(&v, 8);
      cell = v;
      return absl::OkStatus();
    }
    case TypeKind::kFloat: {
      float v = 0;
      if (absl::Status s = fixed(&v, 4); !s.ok()) return s;
      crc_fixed(&v, 4);
      cell = v;
      return absl::OkStatus();
    }
    case TypeKind::kDecimal:
    case TypeKind::kString:
    case TypeKind::kVarchar:
    case TypeKind::kChar:
    case TypeKind::kBinary:
    case TypeKind::kJson: {
      uint64_t size = 0;
      if (absl::Status s = varint(&size); !s.ok()) return s;
      if (options_.max_cell_bytes && size > static_cast<uint64_t>(*options_.max_cell_bytes)) {
        return absl::InvalidArgumentError(absl::StrCat(ColumnContext(column), ": cell of ", size,
                                                       " bytes exceeds the limit of ",
                                                       *options_.max_cell_bytes, " bytes"));
      }
      if (static_cast<uint64_t>(end_ - pos_) < size) {
        return Truncated(absl::StrCat(ColumnContext(column), " (a ", size, "-byte value)"));
      }
      const int32_t field = column + 1;
      crc->UpdateInt32(field);
      crc->Update(pos_, size);
      StoreBytes(cell, pos_, size);
      pos_ += size;
      return absl::OkStatus();
    }
    case TypeKind::kTimestamp: {
      uint64_t raw_seconds = 0;
      uint64_t raw_nanos = 0;
      if (absl::Status s = varint(&raw_seconds); !s.ok()) return s;
      if (absl::Status s = varint(&raw_nanos); !s.ok()) return s;
      if (raw_nanos > std::numeric_limits<uint32_t>::max()) {
        return absl::InvalidArgumentError(
            absl::StrCat(ColumnContext(column), ": TIMESTAMP nanos do not fit a sint32"));
      }
      const int64_t seconds = wire::ZigZagDecode64(raw_seconds);
      const int32_t nanos = wire::ZigZagDecode32(static_cast<uint32_t>(raw_nanos));
      if (!ValidNanos(nanos)) {
        return absl::InvalidArgumentError(absl::StrCat(ColumnContext(column), ": TIMESTAMP nanos ",
                                                       nanos, " outside 0..999999999"));
      }
      char value[12];
      std::memcpy(value, &seconds, 8);
      std::memcpy(value + 8, &nanos, 4);
      crc_fixed(value, 12);
      cell = Timestamp{seconds, nanos};
      return absl::OkStatus();
    }
  }
  return absl::InternalError(absl::StrCat(ColumnContext(column), ": unhandled type"));
}

absl::Status RecordStreamReader::ReadTrailer() {
  auto read = [&](uint64_t* out, const char* what) -> absl::Status {
    switch (ReadVarint64(pos_, end_, out)) {
      case VarintStatus::kOk:
        return absl::OkStatus();
      case VarintStatus::kTruncated:
        return Truncated(absl::StrCat("the trailer's ", what));
      case VarintStatus::kOverlong:
        break;
    }
    return absl::InvalidArgumentError(
        absl::StrCat("record stream trailer: malformed varint in the ", what));
  };

  auto read_uint32 = [&](uint32_t* out, const char* what) -> absl::Status {
    uint64_t raw = 0;
    if (absl::Status s = read(&raw, what); !s.ok()) return s;
    if (!NarrowUint32(raw, out)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "record stream trailer: the %s varint 0x%x does not fit 32 bits", what, raw));
    }
    return absl::OkStatus();
  };

  uint64_t raw_count = 0;
  if (absl::Status s = read(&raw_count, "record count"); !s.ok()) return s;
  const int64_t count = wire::ZigZagDecode64(raw_count);
  if (count != records_) {
    return absl::DataLossError(absl::StrCat("record stream trailer says ", count,
                                            " records but the stream holds ", records_));
  }

  uint64_t tag = 0;
  if (absl::Status s = read(&tag, "checksum tag"); !s.ok()) return s;
  if (tag == wire::MakeTag(wire::kMetricsField, wire::kLengthDelimited)) {
    // Optional metrics section that real servers may put in downloads (§3.8.4); its CRC starts
    // fresh with field number 1 and the metrics bytes.
    uint64_t size = 0;
    if (absl::Status s = read(&size, "metrics length"); !s.ok()) return s;
    if (static_cast<uint64_t>(end_ - pos_) < size) return Truncated("the trailer's metrics");
    Crc32c metrics_crc;
    metrics_crc.UpdateInt32(static_cast<int32_t>(wire::kMetricsField));
    metrics_crc.Update(pos_, size);
    pos_ += size;
    if (absl::Status s = read(&tag, "metrics end tag"); !s.ok()) return s;
    if (tag != wire::MakeTag(wire::kMetricsEndField, wire::kVarint)) {
      return absl::InvalidArgumentError(
          absl::StrCat("record stream trailer: expected the metrics end tag, got tag ", tag));
    }
    uint32_t written = 0;
    if (absl::Status s = read_uint32(&written, "metrics CRC"); !s.ok()) return s;
    if (written != metrics_crc.value()) {
      return absl::DataLossError(
          absl::StrFormat("record stream trailer: metrics CRC mismatch, written 0x%08x, "
                          "computed 0x%08x",
                          written, metrics_crc.value()));
    }
    if (absl::Status s = read(&tag, "checksum tag"); !s.ok()) return s;
  }
  if (tag != wire::MakeTag(wire::kMetaChecksumField, wire::kVarint)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record stream trailer: expected the META_CHECKSUM tag after the record count, got tag ",
        tag, " (field ", tag >> 3, ")"));
  }
  uint32_t written = 0;
  if (absl::Status s = read_uint32(&written, "stream checksum"); !s.ok()) return s;
  if (written != stream_crc_.value()) {
    return absl::DataLossError(absl::StrFormat(
        "record stream trailer: stream CRC mismatch, the trailer says 0x%08x but the %d record "
        "CRCs give 0x%08x",
        written, records_, stream_crc_.value()));
  }
  if (pos_ != end_) {
    return absl::InvalidArgumentError(absl::StrCat("record stream has ", end_ - pos_,
                                                   " unexpected bytes after its trailer (offset ",
                                                   bytes_read(), "): one block is one stream"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Row>> DecodeRecordStream(const TableSchema& schema,
                                                    std::string_view stream,
                                                    const DecodeOptions& options) {
  RecordStreamReader reader(schema, stream, options);
  std::vector<Row> rows;
  while (true) {
    Row row;
    absl::StatusOr<bool> got = reader.Next(&row);
    if (!got.ok()) return got.status();
    if (!*got) break;
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace mcsink::maxcompute
