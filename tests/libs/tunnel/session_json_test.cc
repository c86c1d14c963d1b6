#include "gtest/gtest.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsink/tunnel/tunnel_client.h"

namespace mcsink::tunnel {
namespace {

TEST(SessionJson, ReadsAnUploadSessionAsTheServiceSendsIt) {
  // The shape of protocol §3.3, with the fields clients ignore.
  const std::string body = R"json({
    "UploadID": "20201117150000abcd", "Status": "normal", "Owner": "ALIYUN$x",
    "Schema": {"columns": [
        {"column_id": "", "comment": "", "default_value": "", "name": "topic", "nullable": true,
         "type": "string"},
        {"name": "offset", "type": "bigint", "nullable": false},
        {"name": "price", "type": "decimal(10,2)"}],
      "partitionKeys": [{"name": "pt", "type": "string", "nullable": true}],
      "IsVirtualView": false},
    "UploadedBlockList": [{"BlockID": 3, "RecordCount": 10}, {"BlockID": 0}],
    "MaxFieldSize": 8388608})json";
  ASSERT_OK_AND_ASSIGN(const SessionInfo s, ParseSessionJson(body, /*download=*/false));
  EXPECT_EQ(s.id, "20201117150000abcd");
  EXPECT_EQ(s.status, "NORMAL");
  ASSERT_EQ(s.schema.columns.size(), 3u);
  EXPECT_EQ(s.schema.columns[1].name, "offset");
  EXPECT_EQ(s.schema.columns[1].type.kind, maxcompute::TypeKind::kBigint);
  EXPECT_FALSE(s.schema.columns[1].nullable);
  EXPECT_EQ(s.schema.columns[2].type.ToString(), "DECIMAL(10,2)");
  ASSERT_EQ(s.schema.partition_columns.size(), 1u);
  EXPECT_EQ(s.schema.partition_columns[0].name, "pt");
  EXPECT_EQ(s.block_ids, (std::vector<int64_t>{0, 3}));
}

TEST(SessionJson, ReadsADownloadSessionsRecordCount) {
  ASSERT_OK_AND_ASSIGN(
      const SessionInfo s,
      ParseSessionJson(R"({"DownloadID": "d1", "Status": "normal", "RecordCount": 42,
                           "Schema": {"columns": [], "partitionKeys": []}})",
                       /*download=*/true));
  EXPECT_EQ(s.id, "d1");
  EXPECT_EQ(s.record_count, 42);
}

TEST(SessionJson, RefusesAnswersThatAreNotSessions) {
  EXPECT_EQ(ParseSessionJson("<Error/>", false).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ParseSessionJson(R"({"Status": "normal"})", false).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(ParseSessionJson(R"({"UploadID": "u", "Schema": {"columns": [{"name": "a",
            "type": "array<int>"}]}})",
                             false)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mcsink::tunnel
