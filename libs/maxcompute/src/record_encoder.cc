#include "mcsink/maxcompute/record_encoder.h"

#include <bit>
#include <cstring>
#include <variant>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "mcsink/common/status.h"
#include "mcsink/maxcompute/wire_format.h"

namespace mcsink::maxcompute {
namespace {

using wire::MakeTag;
using wire::PutVarint32;
using wire::PutVarint64;

inline uint32_t FieldTag(int column, wire::WireType wire_type) {
  return MakeTag(static_cast<uint32_t>(column) + 1, wire_type);
}

}  // namespace

void RecordEncoder::AddCrcInput(const void* data, size_t size) {
  if (size > kCrcBufferBytes - crc_pending_) {
    FlushCrcInput();
    if (size >= kCrcBufferBytes / 2) {
      crc_.Update(data, size);
      return;
    }
  }
  std::memcpy(crc_buffer_ + crc_pending_, data, size);
  crc_pending_ += size;
}

// The CRC input of a field: its number (column + 1) as int32 LE, then the value's bytes.
void RecordEncoder::AddCrcField(int column, const void* value, size_t size) {
  const int32_t field = column + 1;
  AddCrcInput(&field, sizeof(field));
  AddCrcInput(value, size);
}

void RecordEncoder::FlushCrcInput() {
  if (crc_pending_ == 0) return;
  crc_.Update(crc_buffer_, crc_pending_);
  crc_pending_ = 0;
}

void RecordEncoder::WriteInteger(int column, int64_t value) {
  char buf[wire::kMaxVarint32Bytes + wire::kMaxVarint64Bytes];
  char* p = PutVarint32(buf, FieldTag(column, wire::kVarint));
  p = PutVarint64(p, wire::ZigZagEncode64(value));
  out_->append(buf, static_cast<size_t>(p - buf));
  AddCrcField(column, &value, 8);
}

void RecordEncoder::WriteBoolean(int column, bool value) {
  char buf[wire::kMaxVarint32Bytes + 1];
  char* p = PutVarint32(buf, FieldTag(column, wire::kVarint));
  *p++ = value ? 1 : 0;
  out_->append(buf, static_cast<size_t>(p - buf));
  const char byte = value ? 1 : 0;
  AddCrcField(column, &byte, 1);
}

void RecordEncoder::WriteDouble(int column, double value) {
  char buf[wire::kMaxVarint32Bytes + 8];
  char* p = PutVarint32(buf, FieldTag(column, wire::kFixed64));
  std::memcpy(p, &value, 8);
  p += 8;
  out_->append(buf, static_cast<size_t>(p - buf));
  AddCrcField(column, &value, 8);
}

void RecordEncoder::WriteFloat(int column, float value) {
  char buf[wire::kMaxVarint32Bytes + 4];
  char* p = PutVarint32(buf, FieldTag(column, wire::kFixed32));
  std::memcpy(p, &value, 4);
  p += 4;
  out_->append(buf, static_cast<size_t>(p - buf));
  AddCrcField(column, &value, 4);
}

void RecordEncoder::WriteBytes(int column, std::string_view value) {
  char buf[wire::kMaxVarint32Bytes + wire::kMaxVarint64Bytes];
  char* p = PutVarint32(buf, FieldTag(column, wire::kLengthDelimited));
  p = PutVarint64(p, value.size());
  out_->append(buf, static_cast<size_t>(p - buf));
  out_->append(value.data(), value.size());
  AddCrcField(column, value.data(), value.size());
}

void RecordEncoder::WriteDate(int column, int64_t days_since_epoch) {
  WriteInteger(column, days_since_epoch);
}

void RecordEncoder::WriteDatetime(int column, int64_t epoch_millis) {
  WriteInteger(column, epoch_millis);
}

void RecordEncoder::WriteTimestamp(int column, int64_t epoch_seconds, int32_t nanos) {
  char buf[wire::kMaxVarint32Bytes + wire::kMaxVarint64Bytes + wire::kMaxVarint32Bytes];
  char* p = PutVarint32(buf, FieldTag(column, wire::kLengthDelimited));
  p = PutVarint64(p, wire::ZigZagEncode64(epoch_seconds));
  p = PutVarint32(p, wire::ZigZagEncode32(nanos));
  out_->append(buf, static_cast<size_t>(p - buf));
  char value[12];
  std::memcpy(value, &epoch_seconds, 8);
  std::memcpy(value + 8, &nanos, 4);
  AddCrcField(column, value, sizeof(value));
}

uint32_t RecordEncoder::EndRecord() {
  FlushCrcInput();
  const uint32_t crc = crc_.value();
  char buf[2 * wire::kMaxVarint32Bytes];
  char* p = PutVarint32(buf, MakeTag(wire::kEndRecordField, wire::kVarint));
  p = PutVarint32(p, crc);
  out_->append(buf, static_cast<size_t>(p - buf));
  crc_.Reset();
  return crc;
}

void StreamTrailer::Add(uint32_t record_crc) {
  ++count_;
  crc_of_crcs_.UpdateInt32(static_cast<int32_t>(record_crc));
}

void StreamTrailer::AddAll(std::span<const uint32_t> record_crcs) {
  static_assert(std::endian::native == std::endian::little,
                "AddAll feeds the CRCs' memory as their little-endian bytes");
  count_ += static_cast<int64_t>(record_crcs.size());
  crc_of_crcs_.Update(record_crcs.data(), record_crcs.size_bytes());
}

void StreamTrailer::AppendTo(std::string* out) const {
  char buf[2 * wire::kMaxVarint32Bytes + wire::kMaxVarint64Bytes + wire::kMaxVarint32Bytes];
  char* p = PutVarint32(buf, MakeTag(wire::kMetaCountField, wire::kVarint));
  p = PutVarint64(p, wire::ZigZagEncode64(count_));
  p = PutVarint32(p, MakeTag(wire::kMetaChecksumField, wire::kVarint));
  p = PutVarint32(p, crc_of_crcs_.value());
  out->append(buf, static_cast<size_t>(p - buf));
}

absl::StatusOr<uint32_t> EncodeRow(const TableSchema& schema, const Row& row,
                                   RecordEncoder* encoder) {
  if (row.size() > schema.columns.size()) {
    return absl::InvalidArgumentError(absl::StrCat("the row has ", row.size(),
                                                   " values but the table has ",
                                                   schema.columns.size(), " data columns"));
  }
  for (size_t i = 0; i < row.size(); ++i) {
    const Column& column = schema.columns[i];
    if (absl::Status s = CheckValueForType(column.type, row[i]); !s.ok()) {
      return Annotate(s, absl::StrCat("column ", i, " '", column.name, "'"));
    }
  }
  for (size_t i = 0; i < row.size(); ++i) {
    const int c = static_cast<int>(i);
    struct Writer {
      RecordEncoder* enc;
      int c;
      void operator()(std::monostate) const {}
      void operator()(int64_t v) const { enc->WriteInteger(c, v); }
      void operator()(bool v) const { enc->WriteBoolean(c, v); }
      void operator()(double v) const { enc->WriteDouble(c, v); }
      void operator()(float v) const { enc->WriteFloat(c, v); }
      void operator()(const std::string& v) const { enc->WriteBytes(c, v); }
      void operator()(Date v) const { enc->WriteDate(c, v.days_since_epoch); }
      void operator()(Datetime v) const { enc->WriteDatetime(c, v.epoch_millis); }
      void operator()(Timestamp v) const { enc->WriteTimestamp(c, v.epoch_seconds, v.nanos); }
    };
    std::visit(Writer{encoder, c}, row[i]);
  }
  return encoder->EndRecord();
}

absl::StatusOr<std::string> EncodeRecordStream(const TableSchema& schema,
                                               std::span<const Row> rows) {
  std::string out;
  RecordEncoder encoder(&out);
  StreamTrailer trailer;
  for (size_t r = 0; r < rows.size(); ++r) {
    absl::StatusOr<uint32_t> crc = EncodeRow(schema, rows[r], &encoder);
    if (!crc.ok()) return Annotate(crc.status(), absl::StrCat("record ", r));
    trailer.Add(*crc);
  }
  trailer.AppendTo(&out);
  return out;
}

}  // namespace mcsink::maxcompute
