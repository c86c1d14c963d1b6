#include "mcsink/maxcompute/types.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink::maxcompute {
namespace {

using ::testing::HasSubstr;

TEST(TypeParse, EverySimpleTypeRoundTripsThroughToString) {
  for (const char* name :
       {"BIGINT", "INT", "SMALLINT", "TINYINT", "BOOLEAN", "FLOAT", "DOUBLE", "DECIMAL", "STRING",
        "BINARY", "JSON", "DATE", "DATETIME", "TIMESTAMP"}) {
    ASSERT_OK_AND_ASSIGN(Type type, Type::Parse(name));
    EXPECT_EQ(type.ToString(), name);
  }
}

TEST(TypeParse, IsCaseInsensitiveAndIgnoresSpaces) {
  ASSERT_OK_AND_ASSIGN(Type type, Type::Parse("  bigint "));
  EXPECT_EQ(type.kind, TypeKind::kBigint);
  ASSERT_OK_AND_ASSIGN(type, Type::Parse("DateTime"));
  EXPECT_EQ(type.kind, TypeKind::kDatetime);
}

TEST(TypeParse, DecimalWithPrecisionAndScale) {
  ASSERT_OK_AND_ASSIGN(Type type, Type::Parse("decimal( 10 , 2 )"));
  EXPECT_EQ(type.kind, TypeKind::kDecimal);
  EXPECT_EQ(type.precision, 10);
  EXPECT_EQ(type.scale, 2);
  EXPECT_EQ(type.ToString(), "DECIMAL(10,2)");
}

TEST(TypeParse, DecimalWithoutParametersKeepsZeroPrecision) {
  ASSERT_OK_AND_ASSIGN(Type type, Type::Parse("decimal"));
  EXPECT_EQ(type.precision, 0);
  EXPECT_EQ(type.scale, 0);
}

TEST(TypeParse, DecimalWithPrecisionOnlyHasScaleZero) {
  ASSERT_OK_AND_ASSIGN(Type type, Type::Parse("DECIMAL(38)"));
  EXPECT_EQ(type.precision, 38);
  EXPECT_EQ(type.scale, 0);
}

TEST(TypeParse, VarcharAndCharKeepTheirLength) {
  ASSERT_OK_AND_ASSIGN(Type varchar, Type::Parse("varchar(20)"));
  EXPECT_EQ(varchar.kind, TypeKind::kVarchar);
  EXPECT_EQ(varchar.length, 20);
  EXPECT_EQ(varchar.ToString(), "VARCHAR(20)");
  ASSERT_OK_AND_ASSIGN(Type chr, Type::Parse("Char( 8 )"));
  EXPECT_EQ(chr.kind, TypeKind::kChar);
  EXPECT_EQ(chr.length, 8);
  EXPECT_EQ(chr.ToString(), "CHAR(8)");
}

TEST(TypeParse, ParsedToStringParsesBackToTheSameType) {
  for (const char* text : {"decimal(38,18)", "varchar(65535)", "char(1)", "tinyint"}) {
    ASSERT_OK_AND_ASSIGN(Type type, Type::Parse(text));
    ASSERT_OK_AND_ASSIGN(Type again, Type::Parse(type.ToString()));
    EXPECT_EQ(type, again) << text;
  }
}

TEST(TypeParse, UnknownTypeIsInvalidArgumentNamingIt) {
  absl::StatusOr<Type> type = Type::Parse("INTEGER");
  ASSERT_FALSE(type.ok());
  EXPECT_EQ(type.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(type.status().message(), HasSubstr("'INTEGER'"));
}

TEST(TypeParse, ComplexTypesAreReportedUnsupported) {
  absl::StatusOr<Type> type = Type::Parse("ARRAY<BIGINT>");
  ASSERT_FALSE(type.ok());
  EXPECT_THAT(type.status().message(), HasSubstr("ARRAY<BIGINT>"));
}

TEST(TypeParse, RejectsBadParameters) {
  for (const char* text : {"varchar", "varchar()", "varchar(0)", "varchar(65536)", "char(256)",
                           "decimal(39,2)", "decimal(10,19)", "decimal(5,6)", "decimal(1,2,3)",
                           "decimal(a)", "bigint(10)", "varchar(10", "string(5)"}) {
    absl::StatusOr<Type> type = Type::Parse(text);
    EXPECT_FALSE(type.ok()) << text;
    EXPECT_EQ(type.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(TableSchema, ColumnIndexIsCaseInsensitive) {
  TableSchema schema;
  schema.columns = {{"topic", {TypeKind::kString}}, {"Offset", {TypeKind::kBigint}}};
  schema.partition_columns = {{"pt", {TypeKind::kString}}};
  EXPECT_EQ(schema.ColumnIndex("TOPIC"), 0);
  EXPECT_EQ(schema.ColumnIndex("offset"), 1);
  EXPECT_EQ(schema.ColumnIndex("pt"), std::nullopt);  // partition columns are not data columns
  EXPECT_EQ(schema.ColumnIndex("missing"), std::nullopt);
}

}  // namespace
}  // namespace mcsink::maxcompute
