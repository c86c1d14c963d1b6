#include "mclocal/sql_executor.h"

#include <unistd.h>

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mclocal/render.h"
#include "mcsink/maxcompute/record_encoder.h"
#include "mcsink/testing/status_matchers.h"

namespace mclocal {
namespace {

namespace fs = std::filesystem;
namespace mc = mcsink::maxcompute;
using ::testing::HasSubstr;

class MclocalSqlExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mclocal-sql-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    auto storage = Storage::Open(dir_);
    ASSERT_OK(storage);
    storage_ = *std::move(storage);
    exec_ = std::make_unique<SqlExecutor>(storage_.get(), /*max_result_rows=*/3);
    ASSERT_OK(Run("CREATE TABLE t(a BIGINT, b STRING) PARTITIONED BY (pt STRING);"));
  }
  void TearDown() override { fs::remove_all(dir_); }

  absl::StatusOr<SqlResult> Run(const std::string& q) { return exec_->Run("p", q); }

  // Commits rows (a = first..first+n-1, b = "even"/"odd") into partition pt=`pt`.
  void Load(const std::string& pt, int first, int n) {
    ASSERT_OK(Run("ALTER TABLE t ADD IF NOT EXISTS PARTITION (pt='" + pt + "');"));
    ASSERT_OK_AND_ASSIGN(TableInfo info, storage_->GetTable("p", "t"));
    std::vector<mc::Row> rows;
    for (int i = first; i < first + n; ++i) {
      rows.push_back({mc::Value{int64_t{i}}, mc::Value{std::string(i % 2 ? "odd" : "even")}});
    }
    ASSERT_OK_AND_ASSIGN(std::string body, mc::EncodeRecordStream(info.schema, rows));
    const std::string upload = "u" + pt + std::to_string(first);
    ASSERT_OK_AND_ASSIGN(fs::path dir, storage_->StagingDir(upload));
    ASSERT_OK(WriteFileAtomically(dir / "b0", body));
    ASSERT_OK(storage_->Commit("p", "t", {{"pt", pt}}, upload,
                               {{0, dir / "b0", n, static_cast<int64_t>(body.size())}}, false));
  }

  fs::path dir_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<SqlExecutor> exec_;
};

TEST_F(MclocalSqlExecutorTest, ShowPartitionsListsSpecsOnePerLine) {
  Load("b", 0, 1);
  Load("a", 0, 1);
  ASSERT_OK_AND_ASSIGN(SqlResult r, Run("show partitions t;"));
  EXPECT_EQ(r.text, "pt=a\npt=b\n");
  EXPECT_EQ(r.format, "text");
}

TEST_F(MclocalSqlExecutorTest, CountFiltersOnPartitionAndDataColumns) {
  Load("a", 0, 5);
  Load("b", 10, 4);
  ASSERT_OK_AND_ASSIGN(SqlResult all, Run("SELECT COUNT(*) FROM t;"));
  EXPECT_EQ(all.text, "\"_c0\"\n9\n");
  ASSERT_OK_AND_ASSIGN(SqlResult part, Run("select count(*) from t where pt='b';"));
  EXPECT_EQ(part.text, "\"_c0\"\n4\n");
  ASSERT_OK_AND_ASSIGN(SqlResult odd, Run("select count(*) from t where pt='a' and b='odd';"));
  EXPECT_EQ(odd.text, "\"_c0\"\n2\n");
}

TEST_F(MclocalSqlExecutorTest, SelectProjectsColumnsAndStopsAtLimitAndRowCap) {
  Load("a", 0, 5);
  ASSERT_OK_AND_ASSIGN(SqlResult r, Run("select b, a from t where a = 3;"));
  EXPECT_EQ(r.format, "csv");
  EXPECT_EQ(r.text, "\"b\",\"a\"\n\"odd\",3\n");
  EXPECT_EQ(r.column_types, (std::vector<std::string>{"STRING", "BIGINT"}));
  ASSERT_OK_AND_ASSIGN(SqlResult limited, Run("select * from t limit 2;"));
  std::vector<std::string> names;
  std::vector<std::vector<std::optional<std::string>>> rows;
  ASSERT_OK(ParseCsv(limited.text, &names, &rows));
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "pt"}));
  EXPECT_EQ(rows.size(), 2u);
  ASSERT_OK_AND_ASSIGN(SqlResult capped, Run("select * from t;"));
  ASSERT_OK(ParseCsv(capped.text, &names, &rows));
  EXPECT_EQ(rows.size(), 3u);  // max_result_rows
}

TEST_F(MclocalSqlExecutorTest, ErrorsCarryMaxComputeCodes) {
  EXPECT_THAT(std::string(Run("select * from nope;").status().message()),
              HasSubstr("ODPS-0130131:Table not found - table p.nope"));
  EXPECT_THAT(std::string(Run("select zz from t;").status().message()), HasSubstr("ODPS-0130071"));
  EXPECT_THAT(std::string(Run("create table t(a bigint);").status().message()),
              HasSubstr("ODPS-0110061"));
  EXPECT_THAT(std::string(Run("alter table t add partition (x='1');").status().message()),
              HasSubstr("not a partition key"));
  ASSERT_OK(Run("alter table t add partition (pt='1');"));
  EXPECT_EQ(Run("alter table t add partition (pt='1');").status().code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_OK(Run("drop table t;"));
  EXPECT_EQ(Run("drop table t;").status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK(Run("drop table if exists t;"));
}

}  // namespace
}  // namespace mclocal
