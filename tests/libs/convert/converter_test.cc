#include "mcsink/convert/converter.h"

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mcsink/testing/status_matchers.h"
#include "test_util.h"

namespace mcsink::convert {
namespace {

using maxcompute::Date;
using maxcompute::Datetime;
using maxcompute::Row;
using maxcompute::TableSchema;
using maxcompute::Timestamp;
using maxcompute::Value;
using testing::AllRows;
using testing::DecodeRows;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::SchemaOf;
using testing::SeedSchema;

absl::Time Utc(int y, int mo, int d, int h, int mi, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

// 15:30 at GMT+08:00 on the seed's day.
const absl::Time kSeedNow = Utc(2020, 11, 17, 7, 30);

ConverterOptions Options(Mode mode, Format format) {
  ConverterOptions o;
  o.table_name = "test_kafka";
  o.mode = mode;
  o.format = format;
  o.clock = [] { return kSeedNow; };
  return o;
}

KafkaRecordView Record(std::optional<std::string_view> key, std::optional<std::string_view> value,
                       int64_t offset = 0) {
  KafkaRecordView r;
  r.topic = "maxcompute-test-input";
  r.partition = 0;
  r.offset = offset;
  r.key = key;
  r.value = value;
  return r;
}

std::unique_ptr<Converter> MakeConverter(TableSchema schema, ConverterOptions options) {
  auto c = Converter::Create(std::move(schema), std::move(options));
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

// Converts one record that must fail; returns its error.
RecordError ConvertFails(Converter& converter, const KafkaRecordView& record) {
  ConvertedBatch out;
  converter.Convert(std::span(&record, 1), &out);
  EXPECT_EQ(out.row_count(), 0u);
  EXPECT_EQ(out.errors.size(), 1u);
  return out.errors.empty() ? RecordError{} : out.errors[0];
}

// Converts one record that must succeed; returns its decoded row.
Row ConvertOne(Converter& converter, const KafkaRecordView& record) {
  ConvertedBatch out;
  converter.Convert(std::span(&record, 1), &out);
  for (const RecordError& e : out.errors)
    ADD_FAILURE() << ErrorCodeName(e.code) << ": " << e.message;
  std::vector<Row> rows = AllRows(converter.schema(), out);
  EXPECT_EQ(rows.size(), 1u);
  return rows.empty() ? Row{} : rows[0];
}

Value S(std::string s) { return Value(std::move(s)); }
Value I(int64_t v) { return Value(v); }
const Value kNull = std::monostate{};

// --- The seed -------------------------------------------------------------------------------

TEST(Converter, SeedExampleGivesTheSeedRowInItsHour) {
  // Given the seed's table, mode DEFAULT, format TEXT, the wall clock at 15:30 GMT+08:00,
  auto converter = MakeConverter(SeedSchema(), Options(Mode::kDefault, Format::kText));
  ASSERT_NE(converter, nullptr);
  // when key 1, value 1 arrives from maxcompute-test-input, partition 0, offset 0,
  const KafkaRecordView record = Record("1", "1", 0);
  ConvertedBatch out;
  converter->Convert(std::span(&record, 1), &out);
  // then one row `maxcompute-test-input | 0 | 0 | 1 | 1` lands in pt `11-17-2020 15`.
  ASSERT_TRUE(out.errors.empty());
  ASSERT_EQ(out.partitions.size(), 1u);
  EXPECT_EQ(out.partitions[0].pt, "11-17-2020 15");
  EXPECT_THAT(out.partitions[0].input_indices, ElementsAre(0u));
  EXPECT_THAT(DecodeRows(converter->schema(), out.partitions[0]),
              ElementsAre(Row{S("maxcompute-test-input"), I(0), I(0), S("1"), S("1")}));
}

// --- TEXT and BINARY, every mode ----------------------------------------------------------------

TEST(Converter, KeyModeWritesOnlyTheKey) {
  auto converter = MakeConverter(SeedSchema(), Options(Mode::kKey, Format::kText));
  ASSERT_NE(converter, nullptr);
  EXPECT_EQ(ConvertOne(*converter, Record("k", "v", 7)),
            (Row{S("maxcompute-test-input"), I(0), I(7), S("k"), kNull}));
}

TEST(Converter, ValueModeWritesOnlyTheValue) {
  auto converter = MakeConverter(SeedSchema(), Options(Mode::kValue, Format::kText));
  ASSERT_NE(converter, nullptr);
  EXPECT_EQ(ConvertOne(*converter, Record("k", "v", 7)),
            (Row{S("maxcompute-test-input"), I(0), I(7), kNull, S("v")}));
}

TEST(Converter, NullKeyOrValueIsANullCellAndEmptyIsEmpty) {
  auto converter = MakeConverter(SeedSchema(), Options(Mode::kDefault, Format::kText));
  ASSERT_NE(converter, nullptr);
  EXPECT_EQ(ConvertOne(*converter, Record(std::nullopt, "")),
            (Row{S("maxcompute-test-input"), I(0), I(0), kNull, S("")}));
}

TEST(Converter, TextRejectsInvalidUtf8NamingTheColumn) {
  auto converter = MakeConverter(SeedSchema(), Options(Mode::kDefault, Format::kText));
  ASSERT_NE(converter, nullptr);
  const RecordError e = ConvertFails(*converter, Record("1", "bad \xff byte", 42));
  EXPECT_EQ(e.code, ErrorCode::kInvalidUtf8);
  EXPECT_EQ(ErrorCodeName(e.code), "INVALID_UTF8");
  EXPECT_EQ(e.column, "value");
  EXPECT_EQ(e.offset, 42);
  EXPECT_THAT(e.message, HasSubstr("BINARY"));
  EXPECT_THAT(e.message, HasSubstr("(mode DEFAULT, format TEXT)"));
}

TEST(Converter, BinaryKeepsBytesAsTheyAre) {
  for (Mode mode : {Mode::kDefault, Mode::kKey, Mode::kValue}) {
    auto converter = MakeConverter(SeedSchema(), Options(mode, Format::kBinary));
    ASSERT_NE(converter, nullptr);
    const std::string key("\x00\xff", 2), value("\xfe\x01\x80", 3);
    const Row row = ConvertOne(*converter, Record(key, value));
    EXPECT_EQ(row[3], mode == Mode::kValue ? kNull : S(key));
    EXPECT_EQ(row[4], mode == Mode::kKey ? kNull : S(value));
  }
}

TEST(Converter, BinaryColumnsTakeBinaryFormat) {
  auto schema = SchemaOf({{"key", "BINARY"}, {"value", "BINARY"}});
  auto converter = MakeConverter(schema, Options(Mode::kDefault, Format::kBinary));
  ASSERT_NE(converter, nullptr);
  EXPECT_EQ(ConvertOne(*converter, Record("a", "\xff")), (Row{S("a"), S("\xff")}));
}

TEST(Converter, TextIntoVarcharChecksCharactersNotBytes) {
  auto schema = SchemaOf({{"value", "VARCHAR(3)"}});
  auto converter = MakeConverter(schema, Options(Mode::kValue, Format::kText));
  ASSERT_NE(converter, nullptr);
  EXPECT_EQ(ConvertOne(*converter, Record(std::nullopt, "h\xc3\xa9!")), (Row{S("h\xc3\xa9!")}));
  const RecordError e = ConvertFails(*converter, Record(std::nullopt, "four"));
  EXPECT_EQ(e.code, ErrorCode::kValueTooLong);
  EXPECT_EQ(e.column, "value");
}

TEST(Converter, TextIntoJsonColumnMustBeJson) {
  auto schema = SchemaOf({{"value", "JSON"}});
  auto converter = MakeConverter(schema, Options(Mode::kValue, Format::kText));
  ASSERT_NE(converter, nullptr);
  EXPECT_EQ(ConvertOne(*converter, Record(std::nullopt, R"({"a": 1})")), (Row{S(R"({"a": 1})")}));
  EXPECT_EQ(ConvertFails(*converter, Record(std::nullopt, "{oops")).code, ErrorCode::kJsonParse);
}

TEST(Converter, MetadataColumnsAreMatchedByNameInAnyOrderAndCase) {
  auto schema = SchemaOf({{"VALUE", "STRING"},
                          {"Offset", "BIGINT"},
                          {"extra", "DOUBLE"},
                          {"TOPIC", "VARCHAR(64)"},
                          {"partition", "INT"}});
  auto converter = MakeConverter(schema, Options(Mode::kValue, Format::kText));
  ASSERT_NE(converter, nullptr);
  KafkaRecordView r = Record("k", "v", 99);
  r.partition = 3;
  EXPECT_EQ(ConvertOne(*converter, r),
            (Row{S("v"), I(99), kNull, S("maxcompute-test-input"), I(3)}));
}

TEST(Converter, TimestampAndInsertTimeColumns) {
  auto schema = SchemaOf({{"timestamp", "DATETIME"},
                          {"insert_time", "BIGINT"},
                          {"value", "STRING"},
                          {"ts2", "STRING"}});
  schema.columns[3].name = "Timestamp_unused";  // not a metadata name: stays NULL
  auto converter = MakeConverter(schema, Options(Mode::kValue, Format::kText));
  ASSERT_NE(converter, nullptr);
  KafkaRecordView r = Record(std::nullopt, "v");
  r.timestamp_ms = 1605598200123;
  r.timestamp_type = TimestampType::kCreateTime;
  EXPECT_EQ(ConvertOne(*converter, r),
            (Row{Datetime{1605598200123}, I(absl::ToUnixMillis(kSeedNow)), S("v"), kNull}));
  // Without a timestamp the column is NULL.
  r.timestamp_type = TimestampType::kNone;
  EXPECT_EQ(ConvertOne(*converter, r)[0], kNull);
}

TEST(Converter, TimestampColumnOfTypeTimestampKeepsMillisecondsAsNanos) {
  auto schema = SchemaOf({{"timestamp", "TIMESTAMP"}, {"value", "STRING"}});
  auto converter = MakeConverter(schema, Options(Mode::kValue, Format::kText));
  ASSERT_NE(converter, nullptr);
  KafkaRecordView r = Record(std::nullopt, "v");
  r.timestamp_ms = 1605598200123;
  r.timestamp_type = TimestampType::kLogAppendTime;
  EXPECT_EQ(ConvertOne(*converter, r)[0], Value(Timestamp{1605598200, 123000000}));
}

// --- Validation at construction -------------------------------------------------------------

void ExpectInvalid(const TableSchema& schema, const ConverterOptions& options,
                   std::string_view needle) {
  auto c = Converter::Create(schema, options);
  ASSERT_FALSE(c.ok()) << "expected InvalidArgument mentioning " << needle;
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr(std::string(needle)));
}

TEST(ConverterCreate, DefaultModeRefusesCsvAndJson) {
  ExpectInvalid(SeedSchema(), Options(Mode::kDefault, Format::kCsv), "KEY or VALUE");
  ExpectInvalid(SeedSchema(), Options(Mode::kDefault, Format::kJson), "KEY or VALUE");
}

TEST(ConverterCreate, ModesNeedTheirColumns) {
  auto no_key = SchemaOf({{"topic", "STRING"}, {"value", "STRING"}});
  ExpectInvalid(no_key, Options(Mode::kDefault, Format::kText), "no column key");
  ExpectInvalid(no_key, Options(Mode::kKey, Format::kBinary), "no column key");
  auto no_value = SchemaOf({{"key", "STRING"}});
  ExpectInvalid(no_value, Options(Mode::kValue, Format::kText), "no column value");
  EXPECT_TRUE(Converter::Create(no_value, Options(Mode::kKey, Format::kText)).ok());
}

TEST(ConverterCreate, MetadataAndPayloadColumnTypesAreChecked) {
  ExpectInvalid(SchemaOf({{"partition", "STRING"}, {"value", "STRING"}}),
                Options(Mode::kValue, Format::kText), "column partition is STRING");
  ExpectInvalid(SchemaOf({{"offset", "INT"}, {"value", "STRING"}}),
                Options(Mode::kValue, Format::kText), "column offset");
  ExpectInvalid(SchemaOf({{"value", "BIGINT"}}), Options(Mode::kValue, Format::kText),
                "column value is BIGINT");
  ExpectInvalid(SchemaOf({{"value", "VARCHAR(10)"}}), Options(Mode::kValue, Format::kBinary),
                "column value");
}

TEST(ConverterCreate, TableMustBePartitionedByPt) {
  ExpectInvalid(SchemaOf({{"value", "STRING"}}, /*with_pt=*/false),
                Options(Mode::kValue, Format::kText), "pt STRING");
  auto two = SchemaOf({{"value", "STRING"}});
  two.partition_columns.push_back({"region", maxcompute::Type{}, true});
  ExpectInvalid(two, Options(Mode::kValue, Format::kText), "pt, region");
}

TEST(ConverterCreate, NotNullColumnThatIsNeverWrittenIsRefused) {
  ExpectInvalid(SchemaOf({{"key", "STRING NOT NULL"}, {"value", "STRING"}}),
                Options(Mode::kValue, Format::kText), "column key is NOT NULL");
}

TEST(ConverterCreate, BadOptionsAreRefused) {
  ConverterOptions o = Options(Mode::kValue, Format::kCsv);
  o.csv_delimiter = '"';
  ExpectInvalid(SeedSchema(), o, "csv_delimiter");
  o = Options(Mode::kValue, Format::kText);
  o.time_zone = "GMT+25:00";
  ExpectInvalid(SeedSchema(), o, "GMT+25:00");
  ExpectInvalid(SchemaOf({{"topic", "STRING"}, {"offset", "BIGINT"}}),
                Options(Mode::kValue, Format::kCsv), "no columns for the CSV fields");
}

// --- CSV
// ------------------------------------------------------------------------------------------

TableSchema AllTypesSchema() {
  return SchemaOf({{"topic", "STRING"},
                   {"c_bigint", "BIGINT"},
                   {"c_int", "INT"},
                   {"c_smallint", "SMALLINT"},
                   {"c_tinyint", "TINYINT"},
                   {"c_double", "DOUBLE"},
                   {"c_float", "FLOAT"},
                   {"c_boolean", "BOOLEAN"},
                   {"c_decimal", "DECIMAL(10,2)"},
                   {"c_string", "STRING"},
                   {"c_varchar", "VARCHAR(5)"},
                   {"c_char", "CHAR(3)"},
                   {"c_date", "DATE"},
                   {"c_datetime", "DATETIME"},
                   {"c_timestamp", "TIMESTAMP"}});
}

TEST(CsvConverter, EveryTypeFromItsText) {
  auto converter = MakeConverter(AllTypesSchema(), Options(Mode::kValue, Format::kCsv));
  ASSERT_NE(converter, nullptr);
  const Row row = ConvertOne(
      *converter,
      Record(std::nullopt,
             "9223372036854775807,-2147483648,32767,-128,-2.5e3,1.5,TRUE,-012.50,\"a,b\","
             "h\xc3\xa9llo,abc,2020-02-29,2020-11-17 15:04:05.123,2020-11-17 "
             "15:04:05.123456789"));
  ASSERT_EQ(row.size(), 15u);
  EXPECT_EQ(row[0], S("maxcompute-test-input"));
  EXPECT_EQ(row[1], I(std::numeric_limits<int64_t>::max()));
  EXPECT_EQ(row[2], I(-2147483648LL));
  EXPECT_EQ(row[3], I(32767));
  EXPECT_EQ(row[4], I(-128));
  EXPECT_EQ(row[5], Value(-2500.0));
  EXPECT_EQ(row[6], Value(1.5f));
  EXPECT_EQ(row[7], Value(true));
  EXPECT_EQ(row[8], S("-12.50"));
  EXPECT_EQ(row[9], S("a,b"));
  EXPECT_EQ(row[10], S("h\xc3\xa9llo"));
  EXPECT_EQ(row[11], S("abc"));
  // 2020-01-01 is day 18262 since 1970-01-01; Feb 29 is 31 + 28 days later.
  EXPECT_EQ(row[12], Value(Date{18262 + 31 + 28}));
  // Read at GMT+08:00: 15:04:05 there is 07:04:05 UTC.
  const int64_t seconds = absl::ToUnixSeconds(Utc(2020, 11, 17, 7, 4, 5));
  EXPECT_EQ(row[13], Value(Datetime{seconds * 1000 + 123}));
  EXPECT_EQ(row[14], Value(Timestamp{seconds, 123456789}));
}

TEST(CsvConverter, DoubleAcceptsNanAndInfinity) {
  auto schema = SchemaOf({{"a", "DOUBLE"}, {"b", "DOUBLE"}, {"c", "FLOAT"}, {"d", "DOUBLE"}});
  auto converter = MakeConverter(schema, Options(Mode::kValue, Format::kCsv));
  ASSERT_NE(converter, nullptr);
  const Row row = ConvertOne(*converter, Record(std::nullopt, "nan,-inf,Infinity,NaN"));
  EXPECT_TRUE(std::isnan(std::get<double>(row[0])));
  EXPECT_EQ(std::get<double>(row[1]), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(std::get<float>(row[2]), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(std::get<double>(row[3])));
}

TEST(CsvConverter, BackslashNIsNullForEveryType) {
  auto converter = MakeConverter(AllTypesSchema(), Options(Mode::kValue, Format::kCsv));
  ASSERT_NE(converter, nullptr);
  std::string line = "\\N";
  for (int i = 1; i < 14; ++i) line += ",\\N";
  const Row row = ConvertOne(*converter, Record(std::nullopt, line));
  ASSERT_EQ(row.size(), 15u);
  for (size_t i = 1; i < row.size(); ++i) EXPECT_EQ(row[i], kNull) << i;
}

TEST(CsvConverter, NullIntoNotNullColumnIsAnError) {
  auto schema = SchemaOf({{"a", "BIGINT NOT NULL"}, {"b", "STRING"}});
  auto converter = MakeConverter(schema, Options(Mode::kValue, Format::kCsv));
  ASSERT_NE(converter, nullptr);
  const RecordError e = ConvertFails(*converter, Record(std::nullopt, "\\N,x"));
  EXPECT_EQ(e.code, ErrorCode::kNullNotAllowed);
  EXPECT_EQ(e.column, "a");
}

TEST(CsvConverter, SeedTableFieldCountMismatchSaysWhatTheTableTakes) {
  // The seed's table under CSV: topic, partition and offset come from Kafka; key and value are the
  // two CSV columns.
  auto converter = MakeConverter(SeedSchema(), Options(Mode::kValue, Format::kCsv));
  ASSERT_NE(converter, nullptr);
  EXPECT_EQ(ConvertOne(*converter, Record("ignored", "x,y")),
            (Row{S("maxcompute-test-input"), I(0), I(0), S("x"), S("y")}));
  const RecordError e = ConvertFails(*converter, Record(std::nullopt, "1,2,3", 5));
  EXPECT_EQ(e.code, ErrorCode::kCsvFieldCount);
  EXPECT_EQ(e.offset, 5);
  EXPECT_EQ(e.message,
            "table test_kafka has 2 CSV columns (key, value) besides the Kafka columns topic, "
            "partition, offset but the CSV value has 3 fields (mode VALUE, format CSV)");
}

TEST(CsvConverter, KeyModeSplitsTheKey) {
  auto schema = SchemaOf({{"a", "BIGINT"}, {"b", "STRING"}});
  auto converter = MakeConverter(schema, Options(Mode::kKey, Format::kCsv));
  ASSERT_NE(converter, nullptr);
  EXPECT_EQ(ConvertOne(*converter, Record("7,k", "9,v")), (Row{I(7), S("k")}));
}

TEST(CsvConverter, ConfigurableDelimiter) {
  auto schema = SchemaOf({{"a", "BIGINT"}, {"b", "STRING"}});
  ConverterOptions o = Options(Mode::kValue, Format::kCsv);
  o.csv_delimiter = '\t';
  auto converter = MakeConverter(schema, o);
  ASSERT_NE(converter, nullptr);
  EXPECT_EQ(ConvertOne(*converter, Record(std::nullopt, "7\tx,y")), (Row{I(7), S("x,y")}));
}

struct BadField {
  std::string type;
  std::string text;
  ErrorCode code;
  std::string message_part;
};

TEST(CsvConverter, ValuesThatDoNotParseNameTheColumnAndTheValue) {
  const std::vector<BadField> cases = {
      {"BIGINT", "abc", ErrorCode::kCsvParse, "\"abc\" is not an integer"},
      {"BIGINT", "", ErrorCode::kCsvParse, "write \\N for NULL"},
      {"BIGINT", "1.0", ErrorCode::kCsvParse, "not an integer"},
      {"BIGINT", "9223372036854775808", ErrorCode::kCsvParse, "out of range for BIGINT"},
      {"INT", "2147483648", ErrorCode::kCsvParse, "out of range for INT"},
      {"SMALLINT", "-32769", ErrorCode::kCsvParse, "out of range for SMALLINT"},
      {"TINYINT", "128", ErrorCode::kCsvParse, "out of range for TINYINT"},
      {"TINYINT", "+-1", ErrorCode::kCsvParse, "not an integer"},
      {"DOUBLE", "1e400", ErrorCode::kCsvParse, "DOUBLE"},
      {"DOUBLE", "0x10", ErrorCode::kCsvParse, "DOUBLE"},
      {"FLOAT", "1e39", ErrorCode::kCsvParse, "FLOAT"},
      {"BOOLEAN", "yes", ErrorCode::kCsvParse, "BOOLEAN"},
      {"DECIMAL(5,2)", "1234.5", ErrorCode::kCsvParse, "4 digits before the point"},
      {"DECIMAL(5,2)", "1.234", ErrorCode::kCsvParse, "3 digits after the point"},
      {"DECIMAL(5,2)", "1e3", ErrorCode::kCsvParse, "not a decimal"},
      {"DECIMAL(5,2)", ".", ErrorCode::kCsvParse, "not a decimal"},
      {"VARCHAR(2)", "abc", ErrorCode::kValueTooLong, "3 characters"},
      {"CHAR(1)", "ab", ErrorCode::kValueTooLong, "CHAR(1) holds 1"},
      {"DATE", "2021-02-29", ErrorCode::kCsvParse, "DATE"},
      {"DATE", "2020-13-01", ErrorCode::kCsvParse, "DATE"},
      {"DATE", "20-01-01", ErrorCode::kCsvParse, "DATE"},
      {"DATE", "0000-01-01", ErrorCode::kCsvParse, "DATE"},
      {"DATETIME", "2020-11-17 24:00:00", ErrorCode::kCsvParse, "DATETIME"},
      {"DATETIME", "2020-11-17 15:04:05.1234", ErrorCode::kCsvParse, "up to 3"},
      {"DATETIME", "2020-11-17", ErrorCode::kCsvParse, "DATETIME"},
      {"TIMESTAMP", "2020-11-17 15:04:05.", ErrorCode::kCsvParse, "TIMESTAMP"},
      {"TIMESTAMP", "2020-11-17 15:04:05.1234567891", ErrorCode::kCsvParse, "up to 9"},
      {"JSON", "{bad", ErrorCode::kJsonParse, "not valid JSON"},
  };
  for (const BadField& c : cases) {
    SCOPED_TRACE(c.type + " <- " + c.text);
    auto converter = MakeConverter(SchemaOf({{"id", "STRING"}, {"col", c.type}}),
                                   Options(Mode::kValue, Format::kCsv));
    ASSERT_NE(converter, nullptr);
    const RecordError e = ConvertFails(*converter, Record(std::nullopt, "1," + c.text));
    EXPECT_EQ(e.code, c.code) << ErrorCodeName(e.code) << ": " << e.message;
    EXPECT_EQ(e.column, "col");
    EXPECT_THAT(e.message, HasSubstr("column col"));
    EXPECT_THAT(e.message, HasSubstr("CSV field 2"));
    EXPECT_THAT(e.message, HasSubstr(c.message_part));
  }
}

TEST(CsvConverter, DecimalIsWrittenAsCanonicalText) {
  auto converter = MakeConverter(
      SchemaOf(
          {{"a", "DECIMAL(5,2)"}, {"b", "DECIMAL(5,2)"}, {"c", "DECIMAL"}, {"d", "DECIMAL(5,2)"}}),
      Options(Mode::kValue, Format::kCsv));
  ASSERT_NE(converter, nullptr);
  EXPECT_EQ(ConvertOne(*converter, Record(std::nullopt, "+001.5,-0.000,.25,12.3400")),
            (Row{S("1.5"), S("0.00"), S("0.25"), S("12.34")}));
}

TEST(CsvConverter, MalformedQuotingIsCsvSyntax) {
  auto converter = MakeConverter(SeedSchema(), Options(Mode::kValue, Format::kCsv));
  ASSERT_NE(converter, nullptr);
  const RecordError e = ConvertFails(*converter, Record(std::nullopt, "a,\"b"));
  EXPECT_EQ(e.code, ErrorCode::kCsvSyntax);
  EXPECT_THAT(e.message, HasSubstr("never closed"));
}

TEST(CsvConverter, NullValueIsNullPayload) {
  auto converter = MakeConverter(SeedSchema(), Options(Mode::kValue, Format::kCsv));
  ASSERT_NE(converter, nullptr);
  EXPECT_EQ(ConvertFails(*converter, Record("k", std::nullopt)).code, ErrorCode::kNullPayload);
}

TEST(CsvConverter, InvalidUtf8IsRejected) {
  auto converter = MakeConverter(SeedSchema(), Options(Mode::kValue, Format::kCsv));
  ASSERT_NE(converter, nullptr);
  EXPECT_EQ(ConvertFails(*converter, Record(std::nullopt, "a,\xc3")).code, ErrorCode::kInvalidUtf8);
}

// --- JSON
// -----------------------------------------------------------------------------------------

TEST(JsonConverter, KeysMatchColumnsCaseInsensitivelyAndMissingKeysAreNull) {
  auto schema = SchemaOf({{"topic", "STRING"},
                          {"id", "BIGINT"},
                          {"Name", "STRING"},
                          {"nested", "STRING"},
                          {"list", "VARCHAR(20)"},
                          {"missing", "DOUBLE"}});
  auto converter = MakeConverter(schema, Options(Mode::kValue, Format::kJson));
  ASSERT_NE(converter, nullptr);
  const Row row = ConvertOne(
      *converter,
      Record(std::nullopt, R"({"ID": 5, "name": "x\u00e9", "nested": {"a": [1, 2], "b": null},)"
                           R"( "LIST": [1, "two"]})"));
  EXPECT_EQ(row, (Row{S("maxcompute-test-input"), I(5), S("x\xc3\xa9"),
                      S(R"({"a":[1,2],"b":null})"), S(R"([1,"two"])"), kNull}));
}

TEST(JsonConverter, EveryTypeFromJsonValues) {
  auto schema = SchemaOf({{"i", "INT"},
                          {"d", "DOUBLE"},
                          {"f", "FLOAT"},
                          {"b", "BOOLEAN"},
                          {"dec", "DECIMAL(10,3)"},
                          {"dec2", "DECIMAL(10,2)"},
                          {"s", "STRING"},
                          {"day", "DATE"},
                          {"ts", "TIMESTAMP"},
                          {"j", "JSON"},
                          {"n", "STRING"},
                          {"dbl_text", "DOUBLE"},
                          {"num_text", "STRING"}});
  auto converter = MakeConverter(schema, Options(Mode::kValue, Format::kJson));
  ASSERT_NE(converter, nullptr);
  const Row row = ConvertOne(
      *converter,
      Record(std::nullopt,
             R"({"i": -7, "d": 0.1, "f": 2.5, "b": false, "dec": 12.5, "dec2": "99.10",)"
             R"( "s": true, "day": "1970-01-02", "ts": "1970-01-01 08:00:01.5", "j": {"x": [1]},)"
             R"( "n": null, "dbl_text": "inf", "num_text": 1e3})"));
  EXPECT_EQ(row, (Row{I(-7), Value(0.1), Value(2.5f), Value(false), S("12.5"), S("99.10"),
                      S("true"), Value(Date{1}), Value(Timestamp{1, 500000000}), S(R"({"x":[1]})"),
                      kNull, Value(std::numeric_limits<double>::infinity()), S("1000")}));
}

TEST(JsonConverter, JsonColumnKeepsStringsAsJsonText) {
  auto converter =
      MakeConverter(SchemaOf({{"j", "JSON"}, {"k", "JSON"}}), Options(Mode::kKey, Format::kJson));
  ASSERT_NE(converter, nullptr);
  EXPECT_EQ(ConvertOne(*converter, Record(R"({"j": "text", "k": 1.5})", std::nullopt)),
            (Row{S("\"text\""), S("1.5")}));
}

TEST(JsonConverter, UnknownKeysAreAnErrorOrIgnoredByConfig) {
  auto schema = SchemaOf({{"a", "BIGINT"}});
  auto strict = MakeConverter(schema, Options(Mode::kValue, Format::kJson));
  ASSERT_NE(strict, nullptr);
  const RecordError e = ConvertFails(*strict, Record(std::nullopt, R"({"a": 1, "zz": 2})"));
  EXPECT_EQ(e.code, ErrorCode::kJsonUnknownKey);
  EXPECT_THAT(e.message, HasSubstr("\"zz\""));
  EXPECT_THAT(e.message, HasSubstr("ignored"));

  ConverterOptions lenient_options = Options(Mode::kValue, Format::kJson);
  lenient_options.json_unknown_keys = UnknownKeyPolicy::kIgnore;
  auto lenient = MakeConverter(schema, lenient_options);
  ASSERT_NE(lenient, nullptr);
  EXPECT_EQ(ConvertOne(*lenient, Record(std::nullopt, R"({"a": 1, "zz": 2})")), (Row{I(1)}));
}

TEST(JsonConverter, MetadataColumnsComeFromTheRecordNotFromJsonKeys) {
  auto schema = SchemaOf({{"offset", "BIGINT"}, {"a", "BIGINT"}});
  auto converter = MakeConverter(schema, Options(Mode::kValue, Format::kJson));
  ASSERT_NE(converter, nullptr);
  EXPECT_EQ(ConvertOne(*converter, Record(std::nullopt, R"({"a": 1})", 77)), (Row{I(77), I(1)}));
  EXPECT_EQ(ConvertFails(*converter, Record(std::nullopt, R"({"a": 1, "offset": 5})")).code,
            ErrorCode::kJsonUnknownKey);
}

TEST(JsonConverter, MalformedOrNonObjectOrDuplicateIsAnError) {
  auto converter = MakeConverter(SchemaOf({{"a", "BIGINT"}}), Options(Mode::kValue, Format::kJson));
  ASSERT_NE(converter, nullptr);
  EXPECT_EQ(ConvertFails(*converter, Record(std::nullopt, R"({"a": )")).code,
            ErrorCode::kJsonParse);
  EXPECT_EQ(ConvertFails(*converter, Record(std::nullopt, "[1]")).code, ErrorCode::kJsonNotObject);
  EXPECT_EQ(ConvertFails(*converter, Record(std::nullopt, R"({"a": 1, "A": 2})")).code,
            ErrorCode::kJsonDuplicateKey);
  EXPECT_EQ(ConvertFails(*converter, Record(std::nullopt, std::nullopt)).code,
            ErrorCode::kNullPayload);
  EXPECT_EQ(ConvertFails(*converter, Record(std::nullopt, "{\"a\": \"\xff\"}")).code,
            ErrorCode::kJsonParse);
}

TEST(JsonConverter, ValuesOfTheWrongTypeNameTheColumn) {
  auto converter = MakeConverter(SchemaOf({{"a", "BIGINT"}, {"d", "DATE"}}),
                                 Options(Mode::kValue, Format::kJson));
  ASSERT_NE(converter, nullptr);
  for (std::string_view json : {R"({"a": "abc"})", R"({"a": 1.5})", R"({"a": {"x": 1}})",
                                R"({"a": 18446744073709551615})", R"({"a": true})"}) {
    SCOPED_TRACE(json);
    const RecordError e = ConvertFails(*converter, Record(std::nullopt, json));
    EXPECT_EQ(e.code, ErrorCode::kJsonType) << e.message;
    EXPECT_EQ(e.column, "a");
    EXPECT_THAT(e.message, HasSubstr("column a BIGINT"));
  }
  EXPECT_EQ(ConvertFails(*converter, Record(std::nullopt, R"({"d": 20201117})")).column, "d");
}

// --- Time source, grouping and offsets ----------------------------------------------------------

KafkaRecordView Timed(int64_t offset, absl::Time t) {
  KafkaRecordView r = Record("k", "v", offset);
  r.timestamp_ms = absl::ToUnixMillis(t);
  r.timestamp_type = TimestampType::kCreateTime;
  return r;
}

TEST(Converter, RecordTimeGroupsRowsByTheirOwnHour) {
  ConverterOptions o = Options(Mode::kDefault, Format::kText);
  o.time_source = TimeSource::kRecordTime;
  auto converter = MakeConverter(SeedSchema(), o);
  ASSERT_NE(converter, nullptr);
  const std::vector<KafkaRecordView> records = {
      Timed(10, Utc(2020, 11, 17, 6, 59)),  // 14:59 at +08:00
      Timed(11, Utc(2020, 11, 17, 7, 0)),   // 15:00
      Timed(12, Utc(2020, 11, 17, 6, 0)),   // 14:00
      Timed(13, Utc(2020, 11, 17, 7, 59)),  // 15:59
  };
  ConvertedBatch out;
  converter->Convert(records, &out);
  ASSERT_TRUE(out.errors.empty());
  ASSERT_EQ(out.partitions.size(), 2u);
  EXPECT_EQ(out.partitions[0].pt, "11-17-2020 14");
  EXPECT_THAT(out.partitions[0].input_indices, ElementsAre(0u, 2u));
  EXPECT_EQ(out.partitions[1].pt, "11-17-2020 15");
  EXPECT_THAT(out.partitions[1].input_indices, ElementsAre(1u, 3u));
  const auto rows = DecodeRows(converter->schema(), out.partitions[1]);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][2], I(11));
  EXPECT_EQ(rows[1][2], I(13));
  // record_ends cut the data into the records.
  EXPECT_EQ(out.partitions[1].record_ends.back(), out.partitions[1].data.size());
}

TEST(Converter, RecordWithoutTimestampIsRejectedOrUsesTheWallClockByPolicy) {
  ConverterOptions o = Options(Mode::kDefault, Format::kText);
  o.time_source = TimeSource::kRecordTime;
  auto strict = MakeConverter(SeedSchema(), o);
  ASSERT_NE(strict, nullptr);
  const RecordError e = ConvertFails(*strict, Record("k", "v", 3));
  EXPECT_EQ(e.code, ErrorCode::kMissingTimestamp);
  EXPECT_EQ(e.offset, 3);

  o.missing_timestamp = MissingTimestampPolicy::kUseWallClock;
  auto lenient = MakeConverter(SeedSchema(), o);
  ASSERT_NE(lenient, nullptr);
  const KafkaRecordView r = Record("k", "v", 3);
  ConvertedBatch out;
  lenient->Convert(std::span(&r, 1), &out);
  ASSERT_EQ(out.partitions.size(), 1u);
  EXPECT_EQ(out.partitions[0].pt, "11-17-2020 15");
}

TEST(Converter, WallClockIsReadOncePerBatchSoABatchLandsInOnePt) {
  ConverterOptions o = Options(Mode::kDefault, Format::kText);
  int calls = 0;
  o.clock = [&calls] { return kSeedNow + absl::Hours(calls++); };
  auto converter = MakeConverter(SeedSchema(), o);
  ASSERT_NE(converter, nullptr);
  const std::vector<KafkaRecordView> records = {Record("a", "1", 0), Record("b", "2", 1),
                                                Record("c", "3", 2)};
  ConvertedBatch out;
  converter->Convert(records, &out);
  ASSERT_EQ(out.partitions.size(), 1u);
  EXPECT_EQ(out.partitions[0].pt, "11-17-2020 15");
  converter->Convert(records, &out);  // the next batch reads the clock again
  ASSERT_EQ(out.partitions.size(), 1u);
  EXPECT_EQ(out.partitions[0].pt, "11-17-2020 16");
}

TEST(Converter, EveryOffsetEndsUpInExactlyOneOfRowsOrErrors) {
  auto converter = MakeConverter(SchemaOf({{"offset", "BIGINT"}, {"a", "BIGINT"}, {"b", "STRING"}}),
                                 Options(Mode::kValue, Format::kCsv));
  ASSERT_NE(converter, nullptr);
  std::vector<std::string> values;
  for (int i = 0; i < 50; ++i) {
    values.push_back(i % 3 == 0 ? "bad,x" : i % 7 == 0 ? "1,\"open" : std::to_string(i) + ",ok");
  }
  std::vector<KafkaRecordView> records;
  for (int i = 0; i < 50; ++i) records.push_back(Record(std::nullopt, values[i], 1000 + i));
  ConvertedBatch out;
  converter->Convert(records, &out);

  std::set<size_t> seen;
  for (const PartitionRows& p : out.partitions) {
    for (size_t idx : p.input_indices) EXPECT_TRUE(seen.insert(idx).second) << idx;
  }
  for (const RecordError& e : out.errors) {
    EXPECT_TRUE(seen.insert(e.input_index).second) << e.input_index;
    EXPECT_EQ(e.offset, records[e.input_index].offset);
  }
  EXPECT_EQ(seen.size(), records.size());
  // The rows that did convert are intact despite the failures between them.
  const std::vector<Row> rows = AllRows(converter->schema(), out);
  ASSERT_EQ(rows.size(), out.partitions[0].input_indices.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const size_t idx = out.partitions[0].input_indices[i];
    EXPECT_EQ(rows[i],
              (Row{I(1000 + static_cast<int64_t>(idx)), I(static_cast<int64_t>(idx)), S("ok")}));
  }
}

TEST(Converter, BatchOfOnlyFailuresHasNoPartitions) {
  auto converter = MakeConverter(SeedSchema(), Options(Mode::kValue, Format::kCsv));
  ASSERT_NE(converter, nullptr);
  const std::vector<KafkaRecordView> records = {Record(std::nullopt, "1"),
                                                Record(std::nullopt, "1,2,3")};
  ConvertedBatch out;
  converter->Convert(records, &out);
  EXPECT_TRUE(out.partitions.empty());
  EXPECT_EQ(out.errors.size(), 2u);
}

}  // namespace
}  // namespace mcsink::convert
