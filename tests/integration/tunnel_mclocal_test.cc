// Our Tunnel client against mclocal: batch upload with an idempotent re-commit, stream upload
// sessions, and downloads of row ranges and column lists, decoded with our codec.
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "mcsink/maxcompute/compression.h"
#include "mcsink/maxcompute/record_decoder.h"
#include "mcsink/maxcompute/record_encoder.h"
#include "mcsink/maxcompute_client/rest_client.h"
#include "mcsink/maxcompute_client/tunnel_client.h"
#include "mcsink/testing/kafka_fixture.h"
#include "mcsink/testing/process.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink::maxcompute_client {
namespace {

using maxcompute::Row;
using maxcompute::TableSchema;

TableSchema SeedSchema() {
  TableSchema s;
  s.columns = {{"topic", {}},
               {"partition", {maxcompute::TypeKind::kBigint}},
               {"offset", {maxcompute::TypeKind::kBigint}},
               {"key", {}},
               {"value", {}}};
  return s;
}

// Rows [first, first+count) of the seed table as one record stream.
std::string SeedStream(int64_t first, int64_t count) {
  std::vector<Row> rows;
  for (int64_t i = first; i < first + count; ++i) {
    rows.push_back({std::string("maxcompute-test-input"), int64_t{0}, i, absl::StrCat("k", i),
                    absl::StrCat("v", i)});
  }
  return *maxcompute::EncodeRecordStream(SeedSchema(), rows);
}

class TunnelMclocalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/" + testing::UniqueTopicName("tunnel");
    std::filesystem::create_directories(dir_);
    ASSERT_OK_AND_ASSIGN(server_, testing::ChildProcess::Start(
                                      {MCSINK_MCLOCAL, "--address=127.0.0.1:0",
                                       "--port_file=" + dir_ + "/port", "--data_dir=" + dir_},
                                      dir_ + "/mclocal.log"));
    ASSERT_OK_AND_ASSIGN(const std::string port,
                         testing::WaitForFileLine(dir_ + "/port", absl::Seconds(30)));
    auto credentials =
        std::make_shared<StaticCredentialsProvider>(Credentials{"ak", "sk", "", std::nullopt});
    ASSERT_OK_AND_ASSIGN(rest_, RestClient::Create({.endpoint = "http://127.0.0.1:" + port + "/api",
                                                    .project = "connector_test"},
                                                   credentials));
    ASSERT_OK_AND_ASSIGN(tunnel_, TunnelClient::Create({.endpoint = "http://127.0.0.1:" + port,
                                                        .project = "connector_test"},
                                                       credentials));
    ASSERT_OK(rest_->RunSql({.query = "CREATE TABLE test_kafka(topic STRING,partition BIGINT,"
                                      "offset BIGINT,key STRING,value STRING) "
                                      "PARTITIONED by (pt STRING);"}));
    ASSERT_OK(rest_->RunSql(
        {.query = "ALTER TABLE test_kafka ADD IF NOT EXISTS PARTITION (pt='11-17-2020 15');"}));
  }

  std::vector<Row> Download(const std::vector<std::string>& columns, const TableSchema& schema,
                            int64_t start, int64_t count) {
    auto session = tunnel_->CreateDownloadSession(target_);
    EXPECT_OK(session);
    if (!session.ok()) return {};
    auto data = tunnel_->ReadRows(target_, session->download_id, start, count, columns);
    EXPECT_OK(data);
    std::string stream = data->body;
    if (!data->content_encoding.empty()) {
      stream = *maxcompute::Decompress(*maxcompute::ParseContentEncoding(data->content_encoding),
                                       data->body, 1 << 30);
    }
    auto rows = maxcompute::DecodeRecordStream(schema, stream);
    EXPECT_OK(rows);
    return rows.value_or(std::vector<Row>{});
  }

  std::string dir_;
  testing::ChildProcess server_ = *testing::ChildProcess::Start({"/bin/true"}, "/dev/null");
  std::unique_ptr<RestClient> rest_;
  std::unique_ptr<TunnelClient> tunnel_;
  const UploadTarget target_{"test_kafka", "pt=11-17-2020 15", ""};
};

TEST_F(TunnelMclocalTest, UploadCommitRecommitAndDownloadRangesAndColumns) {
  ASSERT_OK_AND_ASSIGN(const auto session, tunnel_->CreateUploadSession(target_));
  ASSERT_OK(tunnel_->UploadBlock(target_, session.upload_id, 0,
                                 std::make_shared<const std::string>(SeedStream(0, 10))));
  ASSERT_OK(tunnel_->UploadBlock(
      target_, session.upload_id, 1,
      std::make_shared<const std::string>(*maxcompute::DeflateCompress(SeedStream(10, 10))),
      "deflate"));
  ASSERT_OK(tunnel_->CommitUpload(target_, session.upload_id, std::vector<int64_t>{0, 1}));
  // A commit whose answer was lost is sent again: it must succeed and add nothing.
  ASSERT_OK(tunnel_->CommitUpload(target_, session.upload_id, std::vector<int64_t>{0, 1}));

  const std::vector<Row> all = Download({}, SeedSchema(), 0, 100);
  ASSERT_EQ(all.size(), 20u);
  EXPECT_EQ(std::get<int64_t>(all[15][2]), 15);
  EXPECT_EQ(std::get<std::string>(all[15][4]), "v15");

  TableSchema two;
  two.columns = {{"value", {}}, {"offset", {maxcompute::TypeKind::kBigint}}};
  const std::vector<Row> some = Download({"value", "offset"}, two, 5, 3);
  ASSERT_EQ(some.size(), 3u);
  EXPECT_EQ(std::get<std::string>(some[0][0]), "v5");
  EXPECT_EQ(std::get<int64_t>(some[2][1]), 7);
}

TEST_F(TunnelMclocalTest, StreamPacksAreVisibleWithoutACommit) {
  ASSERT_OK_AND_ASSIGN(const auto stream, tunnel_->CreateStreamSession(target_));
  ASSERT_FALSE(stream.slots.empty());
  ASSERT_OK(tunnel_->WriteStreamPack(target_, stream,
                                     std::make_shared<const std::string>(SeedStream(0, 4)), 4));
  ASSERT_OK(tunnel_->WriteStreamPack(
      target_, stream,
      std::make_shared<const std::string>(*maxcompute::DeflateCompress(SeedStream(4, 4))), 4,
      "deflate"));
  const std::vector<Row> rows = Download({}, SeedSchema(), 0, 100);
  ASSERT_EQ(rows.size(), 8u);
  EXPECT_EQ(std::get<std::string>(rows[7][3]), "k7");
}

}  // namespace
}  // namespace mcsink::maxcompute_client
