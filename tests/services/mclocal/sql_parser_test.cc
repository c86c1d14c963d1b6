#include "mclocal/sql.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mcsink/testing/status_matchers.h"

namespace mclocal::sql {
namespace {

using mcsink::maxcompute::TypeKind;
using ::testing::HasSubstr;

TEST(MclocalSqlParser, SeedCreateTableGivesColumnsAndPartitionKey) {
  ASSERT_OK_AND_ASSIGN(Statement st,
                       Parse("CREATE TABLE IF NOT EXISTS test_kafka(topic STRING,partition BIGINT,"
                             "offset BIGINT,key STRING,value STRING) PARTITIONED by (pt STRING);"));
  const auto* c = std::get_if<CreateTable>(&st);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->if_not_exists);
  EXPECT_EQ(c->table.table, "test_kafka");
  ASSERT_EQ(c->schema.columns.size(), 5u);
  EXPECT_EQ(c->schema.columns[1].name, "partition");
  EXPECT_EQ(c->schema.columns[1].type.kind, TypeKind::kBigint);
  ASSERT_EQ(c->schema.partition_columns.size(), 1u);
  EXPECT_EQ(c->schema.partition_columns[0].name, "pt");
}

TEST(MclocalSqlParser, CreateTableAcceptsParameterizedTypesCommentsAndLifecycle) {
  ASSERT_OK_AND_ASSIGN(Statement st,
                       Parse("create table p.T1 (a decimal(10, 2) comment 'x', `B` varchar(8)) "
                             "comment 'table' lifecycle 7"));
  const auto& c = std::get<CreateTable>(st);
  EXPECT_EQ(c.table.project, "p");
  EXPECT_EQ(c.table.table, "t1");
  EXPECT_EQ(c.schema.columns[0].type.precision, 10);
  EXPECT_EQ(c.schema.columns[0].type.scale, 2);
  EXPECT_EQ(c.schema.columns[1].name, "b");
  EXPECT_EQ(c.schema.columns[1].type.length, 8);
  EXPECT_EQ(c.comment, "table");
  EXPECT_EQ(c.lifecycle, 7);
}

TEST(MclocalSqlParser, AlterTableAddsSeveralPartitionsWithEitherQuote) {
  ASSERT_OK_AND_ASSIGN(
      Statement st,
      Parse("ALTER TABLE t ADD IF NOT EXISTS PARTITION (pt='a b', r=\"x\") PARTITION (pt='c');"));
  const auto& a = std::get<AddPartition>(st);
  EXPECT_TRUE(a.if_not_exists);
  ASSERT_EQ(a.partitions.size(), 2u);
  EXPECT_EQ(a.partitions[0][0], (std::pair<std::string, std::string>{"pt", "a b"}));
  EXPECT_EQ(a.partitions[0][1], (std::pair<std::string, std::string>{"r", "x"}));
}

TEST(MclocalSqlParser, SeedSelectWithDoubleQuotedPartitionValue) {
  ASSERT_OK_AND_ASSIGN(Statement st,
                       Parse("select * from test_kafka where pt =\"11-17-2020 14\";"));
  const auto& s = std::get<Select>(st);
  EXPECT_FALSE(s.count_star);
  EXPECT_TRUE(s.columns.empty());
  ASSERT_EQ(s.where.size(), 1u);
  EXPECT_EQ(s.where[0].second, "11-17-2020 14");
}

TEST(MclocalSqlParser, SelectCountColumnsAndLimit) {
  ASSERT_OK_AND_ASSIGN(Statement count, Parse("SELECT COUNT(*) FROM t WHERE pt='x' AND a=1"));
  EXPECT_TRUE(std::get<Select>(count).count_star);
  EXPECT_EQ(std::get<Select>(count).where.size(), 2u);
  ASSERT_OK_AND_ASSIGN(Statement cols, Parse("select a, b from t limit 5;"));
  EXPECT_EQ(std::get<Select>(cols).columns, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(std::get<Select>(cols).limit, 5);
}

TEST(MclocalSqlParser, ShowPartitionsAndDropTable) {
  ASSERT_OK_AND_ASSIGN(Statement show, Parse("show partitions test_kafka;"));
  EXPECT_EQ(std::get<ShowPartitions>(show).table.table, "test_kafka");
  ASSERT_OK_AND_ASSIGN(Statement drop, Parse("DROP TABLE IF EXISTS x"));
  EXPECT_TRUE(std::get<DropTable>(drop).if_exists);
}

TEST(MclocalSqlParser, UnsupportedStatementsFailWithOdpsParseErrorAndPosition) {
  auto r = Parse("INSERT INTO t VALUES (1);");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("ODPS-0130161:[1,1] Parse exception"));
  auto where = Parse("select * from t where a > 1");
  EXPECT_THAT(std::string(where.status().message()), HasSubstr("only col = 'value'"));
  auto two = Parse("select * from t; select * from u;");
  EXPECT_THAT(std::string(two.status().message()), HasSubstr("one statement at a time"));
  auto unterminated = Parse("select * from t where pt='x");
  EXPECT_THAT(std::string(unterminated.status().message()), HasSubstr("unterminated string"));
  auto badtype = Parse("create table t(a MAP<STRING,BIGINT>)");
  EXPECT_THAT(std::string(badtype.status().message()), HasSubstr("unsupported column type"));
  auto second_line = Parse("select *\nfrom");
  EXPECT_THAT(std::string(second_line.status().message()), HasSubstr("[2,5]"));
}

}  // namespace
}  // namespace mclocal::sql
