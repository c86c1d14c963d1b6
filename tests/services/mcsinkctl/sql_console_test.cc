// The one SQL console (mcsinkctl sql, mclocal-sql) against a real mclocal server in the process:
// the seed's statements print as the MaxCompute console prints them.
#include "mcsinkctl/sql_console.h"

#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mclocal/http_server.h"
#include "mclocal/server.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink::ctl {
namespace {

namespace fs = std::filesystem;
namespace mcc = maxcompute_client;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class SqlConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           absl::StrCat("mcsinkctl-sql-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    ASSERT_OK_AND_ASSIGN(auto storage, mclocal::Storage::Open(dir_));
    mclocal::ServerOptions options;
    ASSERT_OK_AND_ASSIGN(server_, mclocal::Server::Create(options, std::move(storage), nullptr));
    mclocal::Server* server = server_.get();
    ASSERT_OK_AND_ASSIGN(
        http_, mclocal::HttpServer::Start("127.0.0.1:0", [server](mclocal::HttpRequest& req) {
          return server->Handle(req);
        }));
    options_.endpoint = absl::StrCat("http://127.0.0.1:", http_->port(), "/api");
    options_.project = "connector_test";
    options_.credentials = std::make_shared<mcc::StaticCredentialsProvider>(
        mcc::Credentials{"ak", "sk", "", std::nullopt});
  }
  void TearDown() override {
    if (http_) http_->Stop();
    fs::remove_all(dir_);
  }

  fs::path dir_;
  std::unique_ptr<mclocal::Server> server_;
  std::unique_ptr<mclocal::HttpServer> http_;
  SqlConsoleOptions options_;
};

TEST_F(SqlConsoleTest, TheSeedStatementsPrintAsTheConsolePrintsThem) {
  // given the seed's table with one partition
  ASSERT_OK_AND_ASSIGN(
      const std::string created,
      RunSqlStatement(options_,
                      "CREATE TABLE IF NOT EXISTS test_kafka(topic STRING,partition BIGINT,offset "
                      "BIGINT,key STRING,value STRING) PARTITIONED by (pt STRING);"));
  EXPECT_EQ(created, "OK\n");
  ASSERT_OK(RunSqlStatement(
                options_, "ALTER TABLE test_kafka ADD IF NOT EXISTS PARTITION (pt='11-17-2020 15')")
                .status());
  // when
  ASSERT_OK_AND_ASSIGN(const std::string partitions,
                       RunSqlStatement(options_, "show partitions test_kafka;"));
  ASSERT_OK_AND_ASSIGN(
      const std::string rows,
      RunSqlStatement(options_, "select * from test_kafka where pt=\"11-17-2020 15\";"));
  // then: the guide's output, partition list then OK, and a +---+ table whose numeric columns
  // are at least 10 wide
  EXPECT_EQ(partitions, "pt=11-17-2020 15\n\nOK\n");
  EXPECT_THAT(rows, StartsWith("+-"));
  EXPECT_THAT(rows, HasSubstr("| topic | partition  | offset     | key | value | pt |"));
}

TEST_F(SqlConsoleTest, ARejectedStatementIsFailedWithTheServersMessage) {
  const auto result = RunSqlStatement(options_, "select * from no_such_table;");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(result.status().message()), StartsWith("FAILED: ODPS-"));
  EXPECT_THAT(result.status().message(), HasSubstr("no_such_table"));
}

TEST_F(SqlConsoleTest, AnEmptyStatementOrNoProjectIsAnInvalidArgument) {
  EXPECT_EQ(RunSqlStatement(options_, "  \n").status().code(), absl::StatusCode::kInvalidArgument);
  options_.project.clear();
  EXPECT_EQ(RunSqlStatement(options_, "show tables;").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SqlConsoleRender, ACsvResultWithoutColumnTypesStillRendersATable) {
  // given a result as the real service sends it: CSV, no mclocal type header
  mcc::SqlOutcome outcome;
  outcome.status.status = "TERMINATED";
  outcome.status.tasks.push_back({"AnonymousSQLTask", "SQL", "SUCCESS"});
  outcome.results.push_back({"AnonymousSQLTask", "SUCCESS", "csv", "\"a\",\"b\"\n\"x\",\"y\"\n"});
  // when
  ASSERT_OK_AND_ASSIGN(const std::string text, RenderSqlOutcome(outcome));
  // then
  EXPECT_THAT(text, HasSubstr("| a | b |"));
  EXPECT_THAT(text, HasSubstr("| x | y |"));
}

}  // namespace
}  // namespace mcsink::ctl
