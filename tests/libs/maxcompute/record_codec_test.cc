// The Tunnel record stream: encoder bytes pinned to maxcompute-protocol.md §3.8, decoder checks,
// and round trips of every supported type.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mcsink/maxcompute/crc32c.h"
#include "mcsink/maxcompute/record_decoder.h"
#include "mcsink/maxcompute/record_encoder.h"
#include "mcsink/maxcompute/types.h"
#include "mcsink/maxcompute/value.h"
#include "mcsink/maxcompute/wire_format.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink::maxcompute {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

std::string Hex(std::string_view s) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (!out.empty()) out += ' ';
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

Column Col(std::string name, TypeKind kind) { return Column{std::move(name), Type{kind}}; }

// The §3.8.5 schema: (c1 BIGINT, c2 STRING, c3 DOUBLE).
TableSchema ExampleSchema() {
  TableSchema schema;
  schema.columns = {Col("c1", TypeKind::kBigint), Col("c2", TypeKind::kString),
                    Col("c3", TypeKind::kDouble)};
  return schema;
}

const std::string kWorkedExample =
    Bytes({0x08, 0x02,                                              // c1 = 1
           0x12, 0x05, 0x68, 0x65, 0x6C, 0x6C, 0x6F,                // c2 = "hello"
           0x80, 0xC0, 0xFF, 0x7F, 0xBB, 0xAC, 0x9B, 0xF1, 0x0A,    // END_RECORD 0xAE26D63B
           0xF0, 0xFF, 0xFF, 0x7F, 0x02,                            // META_COUNT 1
           0xF8, 0xFF, 0xFF, 0x7F, 0x98, 0x80, 0x9B, 0xBB, 0x01});  // META_CHECKSUM 0x1766C018

TEST(RecordEncoder, WorkedExampleMatchesSpecByteForByte) {
  // Given the §3.8.5 record (1, "hello", NULL)
  std::string out;
  RecordEncoder encoder(&out);
  StreamTrailer trailer;

  // When it is encoded with the low-level API
  encoder.WriteInteger(0, 1);
  encoder.WriteBytes(1, "hello");
  const uint32_t crc = encoder.EndRecord();
  trailer.Add(crc);
  trailer.AppendTo(&out);

  // Then the bytes and CRCs are exactly the spec's
  EXPECT_EQ(crc, 0xAE26D63Bu);
  EXPECT_EQ(Hex(out), Hex(kWorkedExample));
  EXPECT_EQ(trailer.count(), 1);
}

TEST(RecordEncoder, WorkedExampleFromValueRowMatchesSpec) {
  const Row row = {int64_t{1}, std::string("hello"), std::monostate{}};
  ASSERT_OK_AND_ASSIGN(std::string out, EncodeRecordStream(ExampleSchema(), {&row, 1}));
  EXPECT_EQ(Hex(out), Hex(kWorkedExample));
}

TEST(RecordEncoder, ShortRowLeavesTrailingColumnsNull) {
  const Row row = {int64_t{1}, std::string("hello")};
  ASSERT_OK_AND_ASSIGN(std::string out, EncodeRecordStream(ExampleSchema(), {&row, 1}));
  EXPECT_EQ(Hex(out), Hex(kWorkedExample));
}

TEST(RecordDecoder, WorkedExampleDecodesToTheRecord) {
  ASSERT_OK_AND_ASSIGN(std::vector<Row> rows, DecodeRecordStream(ExampleSchema(), kWorkedExample));
  ASSERT_EQ(rows.size(), 1u);
  const Row expected = {int64_t{1}, std::string("hello"), std::monostate{}};
  EXPECT_TRUE(IdenticalRows(rows[0], expected)) << DebugString(rows[0][0]);
}

TEST(RecordEncoder, EmptyStreamIsTheSpecBytes) {
  std::string out;
  StreamTrailer().AppendTo(&out);
  EXPECT_EQ(Hex(out), Hex(Bytes({0xF0, 0xFF, 0xFF, 0x7F, 0x00, 0xF8, 0xFF, 0xFF, 0x7F, 0x00})));
}

TEST(RecordDecoder, EmptyStreamDecodesToNoRows) {
  const std::string empty = Bytes({0xF0, 0xFF, 0xFF, 0x7F, 0x00, 0xF8, 0xFF, 0xFF, 0x7F, 0x00});
  ASSERT_OK_AND_ASSIGN(std::vector<Row> rows, DecodeRecordStream(ExampleSchema(), empty));
  EXPECT_TRUE(rows.empty());
}

// One field per type, written at column 0, against bytes assembled by hand from the §3.8.3
// table: the wire bytes after the tag and the CRC input after the int32 field number.
struct SpecCase {
  const char* name;
  TypeKind kind;
  Value value;
  std::string wire;  // tag + value
  std::string crc_value_bytes;
};

std::vector<SpecCase> SpecCases() {
  return {
      {"bigint -1", TypeKind::kBigint, int64_t{-1}, Bytes({0x08, 0x01}),
       Bytes({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})},
      {"int 300", TypeKind::kInt, int64_t{300}, Bytes({0x08, 0xD8, 0x04}),
       Bytes({0x2C, 0x01, 0, 0, 0, 0, 0, 0})},
      {"boolean true", TypeKind::kBoolean, true, Bytes({0x08, 0x01}), Bytes({0x01})},
      {"boolean false", TypeKind::kBoolean, false, Bytes({0x08, 0x00}), Bytes({0x00})},
      {"double 1.0", TypeKind::kDouble, 1.0, Bytes({0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F}),
       Bytes({0, 0, 0, 0, 0, 0, 0xF0, 0x3F})},
      {"float 1.0", TypeKind::kFloat, 1.0f, Bytes({0x0D, 0, 0, 0x80, 0x3F}),
       Bytes({0, 0, 0x80, 0x3F})},
      {"decimal", TypeKind::kDecimal, std::string("-12.50"),
       Bytes({0x0A, 0x06, '-', '1', '2', '.', '5', '0'}), "-12.50"},
      {"binary", TypeKind::kBinary, std::string("\x00\xFF", 2), Bytes({0x0A, 0x02, 0x00, 0xFF}),
       Bytes({0x00, 0xFF})},
      {"date -1", TypeKind::kDate, Date{-1}, Bytes({0x08, 0x01}),
       Bytes({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})},
      {"datetime 1000ms", TypeKind::kDatetime, Datetime{1000}, Bytes({0x08, 0xD0, 0x0F}),
       Bytes({0xE8, 0x03, 0, 0, 0, 0, 0, 0})},
      // TIMESTAMP: no length; sint64 seconds -1 (01), sint32 nanos 5 (0A).
      {"timestamp", TypeKind::kTimestamp, Timestamp{-1, 5}, Bytes({0x0A, 0x01, 0x0A}),
       Bytes({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x05, 0, 0, 0})},
  };
}

TEST(RecordEncoder, EachTypeFollowsTheSpecTable) {
  for (const SpecCase& c : SpecCases()) {
    TableSchema schema;
    schema.columns = {Col("c", c.kind)};
    std::string out;
    RecordEncoder encoder(&out);
    ASSERT_OK_AND_ASSIGN(uint32_t crc, EncodeRow(schema, {c.value}, &encoder));

    const uint32_t expected_crc = Crc32cOf(Bytes({1, 0, 0, 0}) + c.crc_value_bytes);
    EXPECT_EQ(crc, expected_crc) << c.name;
    ASSERT_GE(out.size(), c.wire.size()) << c.name;
    EXPECT_EQ(Hex(out.substr(0, c.wire.size())), Hex(c.wire)) << c.name;
    // Then END_RECORD and the CRC as a uint32 varint close the record.
    std::string end = Bytes({0x80, 0xC0, 0xFF, 0x7F});
    char varint[5];
    end.append(varint, wire::PutVarint32(varint, expected_crc));
    EXPECT_EQ(Hex(out.substr(c.wire.size())), Hex(end)) << c.name;
  }
}

// All 16 types, in the order of TypeKind.
TableSchema AllTypesSchema() {
  TableSchema schema;
  schema.columns = {
      Col("c_bigint", TypeKind::kBigint),     Col("c_int", TypeKind::kInt),
      Col("c_smallint", TypeKind::kSmallint), Col("c_tinyint", TypeKind::kTinyint),
      Col("c_boolean", TypeKind::kBoolean),   Col("c_float", TypeKind::kFloat),
      Col("c_double", TypeKind::kDouble),     {"c_decimal", {TypeKind::kDecimal, 38, 18}},
      Col("c_string", TypeKind::kString),     {"c_varchar", {TypeKind::kVarchar, 0, 0, 20}},
      {"c_char", {TypeKind::kChar, 0, 0, 4}}, Col("c_binary", TypeKind::kBinary),
      Col("c_json", TypeKind::kJson),         Col("c_date", TypeKind::kDate),
      Col("c_datetime", TypeKind::kDatetime), Col("c_timestamp", TypeKind::kTimestamp)};
  return schema;
}

std::vector<Row> AllTypesRows() {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<Row> rows;
  rows.push_back({int64_t{1}, int64_t{2}, int64_t{3}, int64_t{4}, true, 1.5f, 2.25,
                  std::string("12.50"), std::string("hello"), std::string("varchar"),
                  std::string("char"), std::string("\x00\x01\xFF", 3),
                  std::string(R"({"a":[1,2]})"), Date{19000}, Datetime{1700000000123},
                  Timestamp{1700000000, 123456789}});
  rows.push_back({kMin, int64_t{std::numeric_limits<int32_t>::min()},
                  int64_t{std::numeric_limits<int16_t>::min()},
                  int64_t{std::numeric_limits<int8_t>::min()}, false,
                  std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN(),
                  std::string("-0.000000000000000001"), std::string(""), std::string(""),
                  std::string(""), std::string(""), std::string("null"), Date{-719162},
                  Datetime{-62135596800000}, Timestamp{-1, 999999999}});
  rows.push_back(
      {kMax, int64_t{std::numeric_limits<int32_t>::max()},
       int64_t{std::numeric_limits<int16_t>::max()}, int64_t{std::numeric_limits<int8_t>::max()},
       true, -std::numeric_limits<float>::infinity(), -0.0, std::string("0"),
       std::string("\xE4\xB8\xAD\xE6\x96\x87"), std::string("x"), std::string("y"),
       std::string(1, '\0'), std::string("{}"), Date{-1}, Datetime{-1}, Timestamp{kMin, 0}});
  rows.push_back({int64_t{0}, int64_t{0}, int64_t{0}, int64_t{0}, false, -0.0f, inf,
                  std::string("1E+3"), std::string(8 << 20, 'z'), std::string("v"),
                  std::string("c"), std::string(3, '\x80'), std::string("[]"), Date{0}, Datetime{0},
                  Timestamp{kMax, 999999999}});
  rows.push_back({int64_t{-1}, std::monostate{}, std::monostate{}, std::monostate{},
                  std::monostate{}, std::numeric_limits<float>::max(), -inf, std::monostate{},
                  std::monostate{}, std::monostate{}, std::monostate{}, std::monostate{},
                  std::monostate{}, std::monostate{}, std::monostate{},
                  Timestamp{-62135596800, 1}});
  rows.push_back(Row(16, std::monostate{}));  // every column NULL
  rows.push_back({std::monostate{}, std::monostate{}, std::monostate{}, std::monostate{},
                  std::monostate{}, std::monostate{}, std::numeric_limits<double>::denorm_min(),
                  std::monostate{}, std::monostate{}, std::monostate{}, std::monostate{},
                  std::monostate{}, std::monostate{}, std::monostate{}, std::monostate{},
                  std::monostate{}});
  return rows;
}

TEST(RecordCodec, EveryTypeRoundTripsWithNullsAndEdgeValues) {
  // Given rows covering every type, NULLs and edge values (an 8 MiB string included)
  const TableSchema schema = AllTypesSchema();
  const std::vector<Row> rows = AllTypesRows();

  // When they are encoded and decoded with the server's 8 MiB cell limit
  ASSERT_OK_AND_ASSIGN(std::string stream, EncodeRecordStream(schema, rows));
  ASSERT_OK_AND_ASSIGN(std::vector<Row> decoded,
                       DecodeRecordStream(schema, stream, {.max_cell_bytes = wire::kMaxCellBytes}));

  // Then every value comes back bit for bit (NaN and -0.0 included)
  ASSERT_EQ(decoded.size(), rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < schema.columns.size(); ++c) {
      EXPECT_TRUE(IdenticalValues(decoded[r][c], rows[r][c]))
          << "row " << r << " column " << schema.columns[c].name << ": got "
          << DebugString(decoded[r][c]) << ", want " << DebugString(rows[r][c]);
    }
  }
}

TEST(RecordCodec, ReaderReusingOneRowClearsColumnsThatBecomeNull) {
  const TableSchema schema = AllTypesSchema();
  const std::vector<Row> rows = AllTypesRows();
  ASSERT_OK_AND_ASSIGN(std::string stream, EncodeRecordStream(schema, rows));

  RecordStreamReader reader(schema, stream);
  Row row;
  size_t r = 0;
  while (true) {
    ASSERT_OK_AND_ASSIGN(bool got, reader.Next(&row));
    if (!got) break;
    ASSERT_LT(r, rows.size());
    EXPECT_TRUE(IdenticalRows(row, rows[r])) << "row " << r;
    ++r;
  }
  EXPECT_EQ(r, rows.size());
  EXPECT_EQ(reader.records_read(), static_cast<int64_t>(rows.size()));
  EXPECT_EQ(reader.bytes_read(), stream.size());
  // After the trailer the reader stays at the end.
  ASSERT_OK_AND_ASSIGN(bool again, reader.Next(&row));
  EXPECT_FALSE(again);
}

TEST(RecordCodec, SeparatelyEncodedRecordsPlusOneTrailerEqualOneStream) {
  const TableSchema schema = AllTypesSchema();
  std::vector<Row> rows = AllTypesRows();
  rows.erase(rows.begin() + 3);  // keep the test light: drop the 8 MiB row
  ASSERT_OK_AND_ASSIGN(std::string in_one_go, EncodeRecordStream(schema, rows));

  // Each record encoded into its own buffer, as a writer caching encoded records would.
  std::string concatenated;
  StreamTrailer trailer;
  for (const Row& row : rows) {
    std::string record;
    RecordEncoder encoder(&record);
    ASSERT_OK_AND_ASSIGN(uint32_t crc, EncodeRow(schema, row, &encoder));
    concatenated += record;
    trailer.Add(crc);
  }
  trailer.AppendTo(&concatenated);

  EXPECT_EQ(concatenated, in_one_go);
}

TEST(StreamTrailer, AddAllEqualsAddOfEachCrcInOrder) {
  std::mt19937 rng(3);
  for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{63}, size_t{1000}}) {
    std::vector<uint32_t> crcs(n);
    for (uint32_t& c : crcs) c = static_cast<uint32_t>(rng());
    StreamTrailer one_by_one;
    for (uint32_t c : crcs) one_by_one.Add(c);
    StreamTrailer all;
    all.AddAll(crcs);
    std::string expected;
    std::string actual;
    one_by_one.AppendTo(&expected);
    all.AppendTo(&actual);
    EXPECT_EQ(all.count(), static_cast<int64_t>(n));
    EXPECT_EQ(actual, expected) << n << " CRCs";
  }
}

TEST(RecordCodec, ColumnsOutOfOrderStillDecode) {
  // The Java reader accepts fields in any order; so do we (the CRC follows wire order).
  std::string stream;
  RecordEncoder encoder(&stream);
  encoder.WriteBytes(1, "hello");
  encoder.WriteInteger(0, 1);
  StreamTrailer trailer;
  trailer.Add(encoder.EndRecord());
  trailer.AppendTo(&stream);
  ASSERT_OK_AND_ASSIGN(std::vector<Row> rows, DecodeRecordStream(ExampleSchema(), stream));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(IdenticalRows(rows[0], Row{int64_t{1}, std::string("hello"), std::monostate{}}));
}

TEST(RecordCodec, DecoderSkipsAValidMetricsSection) {
  // Given a stream whose trailer carries the optional metrics section of downloads (§3.8.4)
  std::string stream = kWorkedExample.substr(0, kWorkedExample.size() - 9);  // up to the count
  const std::string metrics = "{\"x\":1}";
  stream += Bytes({0x0A, static_cast<int>(metrics.size())}) + metrics;
  Crc32c metrics_crc;
  metrics_crc.UpdateInt32(1);
  metrics_crc.Update(metrics.data(), metrics.size());
  char varint[5];
  stream += Bytes({0x80, 0xF0, 0xFF, 0x7F});
  stream.append(varint, wire::PutVarint32(varint, metrics_crc.value()));
  stream += kWorkedExample.substr(kWorkedExample.size() - 9);

  ASSERT_OK_AND_ASSIGN(std::vector<Row> rows, DecodeRecordStream(ExampleSchema(), stream));
  EXPECT_EQ(rows.size(), 1u);
}

// --- Encoder helper errors -------------------------------------------------------------------

TEST(EncodeRow, RejectsAValueOfTheWrongTypeWithoutWritingAnything) {
  std::string out;
  RecordEncoder encoder(&out);
  absl::StatusOr<uint32_t> crc = EncodeRow(ExampleSchema(), {int64_t{1}, int64_t{2}}, &encoder);
  ASSERT_FALSE(crc.ok());
  EXPECT_EQ(crc.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(crc.status().message(), AllOf(HasSubstr("column 1 'c2'"), HasSubstr("STRING")));
  EXPECT_TRUE(out.empty());
}

TEST(EncodeRow, RejectsIntegersOutOfTheColumnRange) {
  TableSchema schema;
  schema.columns = {Col("t", TypeKind::kTinyint)};
  std::string out;
  RecordEncoder encoder(&out);
  absl::StatusOr<uint32_t> crc = EncodeRow(schema, {int64_t{128}}, &encoder);
  ASSERT_FALSE(crc.ok());
  EXPECT_THAT(crc.status().message(), HasSubstr("128"));
}

TEST(EncodeRow, RejectsMoreValuesThanColumns) {
  std::string out;
  RecordEncoder encoder(&out);
  Row row(4, std::monostate{});
  EXPECT_FALSE(EncodeRow(ExampleSchema(), row, &encoder).ok());
}

TEST(EncodeRecordStream, NamesTheRecordOfABadValue) {
  const std::vector<Row> rows = {{int64_t{1}}, {std::string("x")}};
  absl::StatusOr<std::string> out = EncodeRecordStream(ExampleSchema(), rows);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(), HasSubstr("record 1"));
}

// --- Decoder errors ---------------------------------------------------------------------------

// Two records of the example schema, the second with all three columns.
struct TwoRecords {
  std::string records;  // without trailer
  uint32_t crc0 = 0;
  uint32_t crc1 = 0;
};
TwoRecords MakeTwoRecords() {
  TwoRecords t;
  RecordEncoder encoder(&t.records);
  encoder.WriteInteger(0, 1);
  encoder.WriteBytes(1, "hello");
  t.crc0 = encoder.EndRecord();
  encoder.WriteInteger(0, 2);
  encoder.WriteBytes(1, "world");
  encoder.WriteDouble(2, 3.5);
  t.crc1 = encoder.EndRecord();
  return t;
}

std::string WithTrailer(std::string records, std::initializer_list<uint32_t> crcs) {
  StreamTrailer trailer;
  for (uint32_t crc : crcs) trailer.Add(crc);
  trailer.AppendTo(&records);
  return records;
}

absl::Status DecodeStatus(const TableSchema& schema, std::string_view stream,
                          DecodeOptions options = {}) {
  return DecodeRecordStream(schema, stream, options).status();
}

TEST(RecordDecoder, ValidTwoRecordStreamDecodes) {
  const TwoRecords t = MakeTwoRecords();
  EXPECT_OK(DecodeStatus(ExampleSchema(), WithTrailer(t.records, {t.crc0, t.crc1})));
}

TEST(RecordDecoder, WrongRecordCrcIsDataLossNamingTheRecord) {
  // Given the second record's "world" changed to "worle" after encoding
  const TwoRecords t = MakeTwoRecords();
  std::string stream = WithTrailer(t.records, {t.crc0, t.crc1});
  const size_t pos = stream.find("world");
  ASSERT_NE(pos, std::string::npos);
  stream[pos + 4] = 'e';

  const absl::Status status = DecodeStatus(ExampleSchema(), stream);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("record 1"), HasSubstr("CRC mismatch")));
}

TEST(RecordDecoder, WrongRecordCountIsDataLoss) {
  const TwoRecords t = MakeTwoRecords();
  // Trailer counts three records over a stream of two.
  const std::string stream = WithTrailer(t.records, {t.crc0, t.crc1, 0});
  const absl::Status status = DecodeStatus(ExampleSchema(), stream);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("3 records"), HasSubstr("holds 2")));
}

TEST(RecordDecoder, WrongStreamCrcIsDataLoss) {
  const TwoRecords t = MakeTwoRecords();
  // Right count, but the CRCs are fed in the wrong order.
  const std::string stream = WithTrailer(t.records, {t.crc1, t.crc0});
  const absl::Status status = DecodeStatus(ExampleSchema(), stream);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("stream CRC mismatch"));
}

TEST(RecordDecoder, UnknownColumnTagIsInvalidArgument) {
  // Given a record written for a 4-column table, read with the 3-column schema
  std::string records;
  RecordEncoder encoder(&records);
  encoder.WriteInteger(0, 1);
  encoder.WriteBytes(3, "extra");
  const uint32_t crc = encoder.EndRecord();

  const absl::Status status = DecodeStatus(ExampleSchema(), WithTrailer(records, {crc}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("record 0"), HasSubstr("field number 4"),
                                      HasSubstr("3 data columns")));
}

TEST(RecordDecoder, WrongWireTypeIsInvalidArgumentNamingTheColumn) {
  // Given column c3 (DOUBLE) written as an integer
  std::string records;
  RecordEncoder encoder(&records);
  encoder.WriteInteger(0, 1);
  uint32_t crc0 = encoder.EndRecord();
  encoder.WriteInteger(2, 7);
  uint32_t crc1 = encoder.EndRecord();

  const absl::Status status = DecodeStatus(ExampleSchema(), WithTrailer(records, {crc0, crc1}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("record 1"), HasSubstr("column 2 'c3' (DOUBLE)"),
                                      HasSubstr("wire type 0")));
}

TEST(RecordDecoder, EveryTruncationIsDataLoss) {
  const TwoRecords t = MakeTwoRecords();
  const std::string stream = WithTrailer(t.records, {t.crc0, t.crc1});
  for (size_t size = 0; size < stream.size(); ++size) {
    const absl::Status status = DecodeStatus(ExampleSchema(), stream.substr(0, size));
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << "prefix " << size << ": " << status;
  }
}

TEST(RecordDecoder, TruncationInsideAValueNamesRecordAndColumn) {
  const TwoRecords t = MakeTwoRecords();
  const std::string stream = WithTrailer(t.records, {t.crc0, t.crc1});
  const size_t cut = stream.find("world") + 2;
  const absl::Status status = DecodeStatus(ExampleSchema(), stream.substr(0, cut));
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("truncated"), HasSubstr("record 1"), HasSubstr("column 1 'c2'")));
}

TEST(RecordDecoder, CellAboveTheLimitIsInvalidArgument) {
  // Given one 8 MiB + 1 byte string
  std::string records;
  RecordEncoder encoder(&records);
  encoder.WriteBytes(1, std::string(wire::kMaxCellBytes + 1, 'a'));
  const std::string stream = WithTrailer(records, {encoder.EndRecord()});

  // Then the server's limit rejects it and no limit accepts it
  const absl::Status status =
      DecodeStatus(ExampleSchema(), stream, {.max_cell_bytes = wire::kMaxCellBytes});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("record 0, column 1 'c2'"),
                                      HasSubstr("8388609 bytes"), HasSubstr("8388608")));
  EXPECT_OK(DecodeStatus(ExampleSchema(), stream));
}

TEST(RecordDecoder, MoreRecordsThanAllowedIsInvalidArgument) {
  const TwoRecords t = MakeTwoRecords();
  const std::string stream = WithTrailer(t.records, {t.crc0, t.crc1});
  EXPECT_OK(DecodeStatus(ExampleSchema(), stream, {.max_records = 2}));
  const absl::Status status = DecodeStatus(ExampleSchema(), stream, {.max_records = 1});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
}

TEST(RecordDecoder, RepeatedColumnIsInvalidArgument) {
  std::string records;
  RecordEncoder encoder(&records);
  encoder.WriteInteger(0, 1);
  encoder.WriteInteger(0, 2);
  const absl::Status status =
      DecodeStatus(ExampleSchema(), WithTrailer(records, {encoder.EndRecord()}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("twice"));
}

TEST(RecordDecoder, IntegerOutOfColumnRangeIsInvalidArgument) {
  TableSchema schema;
  schema.columns = {Col("s", TypeKind::kSmallint)};
  std::string records;
  RecordEncoder encoder(&records);
  encoder.WriteInteger(0, 40000);
  const absl::Status status = DecodeStatus(schema, WithTrailer(records, {encoder.EndRecord()}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("40000"));
}

TEST(RecordDecoder, TimestampNanosOutOfRangeIsInvalidArgument) {
  TableSchema schema;
  schema.columns = {Col("ts", TypeKind::kTimestamp)};
  std::string records;
  RecordEncoder encoder(&records);
  encoder.WriteTimestamp(0, 0, 1'000'000'000);
  const absl::Status status = DecodeStatus(schema, WithTrailer(records, {encoder.EndRecord()}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("nanos"));
}

TEST(RecordDecoder, BytesAfterTheTrailerAreInvalidArgument) {
  const std::string stream = kWorkedExample + "x";
  const absl::Status status = DecodeStatus(ExampleSchema(), stream);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("after its trailer"));
}

TEST(RecordDecoder, RecordWithoutEndRecordBeforeTrailerIsDataLoss) {
  std::string records;
  RecordEncoder encoder(&records);
  encoder.WriteInteger(0, 1);  // no EndRecord
  const absl::Status status = DecodeStatus(ExampleSchema(), WithTrailer(records, {}));
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("END_RECORD"));
}

TEST(RecordDecoder, EverySingleByteCorruptionIsDetected) {
  // Given a valid stream of all types (without the 8 MiB row), each byte flipped in turn
  const TableSchema schema = AllTypesSchema();
  std::vector<Row> rows = AllTypesRows();
  rows.erase(rows.begin() + 3);
  ASSERT_OK_AND_ASSIGN(const std::string stream, EncodeRecordStream(schema, rows));
  for (size_t pos = 0; pos < stream.size(); ++pos) {
    for (int mask : {0x01, 0x80, 0xFF}) {
      std::string corrupt = stream;
      corrupt[pos] = static_cast<char>(corrupt[pos] ^ mask);
      // Then the decoder rejects every one (with no crash or overread under sanitizers)
      EXPECT_FALSE(DecodeRecordStream(schema, corrupt).ok())
          << "byte " << pos << " ^ " << mask << " went unnoticed";
    }
  }
}

TEST(RecordDecoder, AcceptsASignExtendedRecordCrcAsPyodpsWritesIt) {
  // Given the worked example with its record CRC 0xAE26D63B (>= 2^31) written as pyodps's C
  // writer does: the varint of the sign-extended int64 0xFFFFFFFFAE26D63B, 10 bytes
  std::string stream = kWorkedExample;
  const std::string five = Bytes({0xBB, 0xAC, 0x9B, 0xF1, 0x0A});
  char varint[10];
  const std::string ten(varint, wire::PutVarint64(varint, 0xFFFFFFFFAE26D63Bull));
  ASSERT_EQ(ten.size(), 10u);
  stream.replace(stream.find(five), five.size(), ten);

  ASSERT_OK_AND_ASSIGN(std::vector<Row> rows, DecodeRecordStream(ExampleSchema(), stream));
  EXPECT_EQ(rows.size(), 1u);

  // But bits above 32 that are not a sign extension are malformed
  std::string bad = kWorkedExample;
  const std::string over(varint, wire::PutVarint64(varint, 0x1AE26D63Bull));
  bad.replace(bad.find(five), five.size(), over);
  const absl::Status status = DecodeStatus(ExampleSchema(), bad);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("does not fit 32 bits"));
}

TEST(RecordDecoder, ErrorIsStickyAcrossCalls) {
  const std::string stream = kWorkedExample.substr(0, 5);
  const TableSchema schema = ExampleSchema();
  RecordStreamReader reader(schema, stream);
  Row row;
  const absl::StatusOr<bool> first = reader.Next(&row);
  const absl::StatusOr<bool> second = reader.Next(&row);
  EXPECT_FALSE(first.ok());
  EXPECT_EQ(first.status(), second.status());
}

}  // namespace
}  // namespace mcsink::maxcompute
