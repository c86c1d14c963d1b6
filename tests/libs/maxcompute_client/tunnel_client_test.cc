// TunnelClient against a local server playing the batch-upload tunnel (§3.3-3.5) that verifies
// every signature, plus the session JSON parser on bodies shaped as §3.3 describes.
#include "mcsink/maxcompute_client/tunnel_client.h"

#include <map>
#include <mutex>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mcsink/maxcompute_client/signing.h"
#include "mcsink/testing/status_matchers.h"
#include "test_http_server.h"

namespace mcsink::maxcompute_client {
namespace {

using ::mcsink::maxcompute_client::testing::ReceivedRequest;
using ::mcsink::maxcompute_client::testing::Reply;
using ::mcsink::maxcompute_client::testing::TestHttpServer;
using ::testing::HasSubstr;

TEST(ParseUploadSessionJson, ReadsIdStatusSchemaAndBlocks) {
  ASSERT_OK_AND_ASSIGN(const UploadSessionInfo session, ParseUploadSessionJson(R"json({
      "UploadID": "20260101abcdef", "Status": "normal", "Owner": "o", "QuotaName": "",
      "Schema": {"columns": [{"name": "id", "type": "BIGINT", "nullable": false, "comment": "",
                              "column_id": "1", "default_value": null},
                             {"name": "v", "type": "STRING", "nullable": true}],
                 "partitionKeys": [{"name": "pt", "type": "STRING", "nullable": true}],
                 "IsVirtualView": false},
      "UploadedBlockList": [{"BlockID": 3, "RecordCount": 10, "CreateTime": 1767225600,
                             "Date": "", "FileName": "", "Version": 0}, {"BlockID": 0}],
      "MaxFieldSize": 8388608, "IsOverwrite": true})json"));
  EXPECT_EQ(session.upload_id, "20260101abcdef");
  EXPECT_EQ(session.status, "NORMAL");
  const std::vector<ColumnInfo> columns = {{"id", "BIGINT", false, ""}, {"v", "STRING", true, ""}};
  EXPECT_EQ(session.columns, columns);
  ASSERT_EQ(session.partition_keys.size(), 1u);
  EXPECT_EQ(session.partition_keys[0].name, "pt");
  EXPECT_EQ(session.uploaded_block_ids, (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(session.max_field_size, 8388608);
  EXPECT_TRUE(session.overwrite);
}

TEST(ParseUploadSessionJson, RejectsBodiesWithoutAnId) {
  EXPECT_FALSE(ParseUploadSessionJson("").ok());
  EXPECT_FALSE(ParseUploadSessionJson("{\"Status\":\"normal\"}").ok());
  EXPECT_FALSE(ParseUploadSessionJson("{\"UploadID\":\"u\",\"UploadedBlockList\":[{}]}").ok());
}

// A tunnel with one table `t1` partitioned by pt; stores blocks per session.
class FakeTunnel {
 public:
  Reply Handle(const ReceivedRequest& r) {
    std::lock_guard<std::mutex> lock(mu_);
    log_.push_back(r);
    const auto authorization = FindHeader(r.headers, "Authorization");
    if (!authorization) return Error(403, "NoAuthorization");
    const auto auth = ParseAuthorization(*authorization);
    if (!auth.ok()) return Error(403, "BadAuthorization");
    const std::string canonical = BuildCanonicalString(r.method, r.path, r.query, r.headers);
    if (!SignaturesEqual(ComputeSignature(canonical, "test-sk", auth->v4_scope), auth->signature)) {
      return Error(403, "SignatureNotMatch");
    }
    if (FindHeader(r.headers, "x-odps-tunnel-version") != "6") return Error(400, "NoVersion");
    if (r.path != "/projects/test_project/tables/t1") return Error(404, "NoSuchTable");
    std::map<std::string, std::string> q(r.query.begin(), r.query.end());
    if (q["partition"] != "pt=20260101") return Error(400, "InvalidPartitionSpec");
    if (r.method == "POST" && q.count("uploads")) {
      sessions_["up1"];
      return Session("up1", "normal");
    }
    if (!sessions_.count(q["uploadid"])) return Error(404, "NoSuchUpload");
    std::set<int64_t>& blocks = sessions_[q["uploadid"]];
    if (r.method == "PUT") {
      if (FindHeader(r.headers, "Content-Type") != "application/octet-stream") {
        return Error(400, "BadContentType");
      }
      blocks.insert(std::stoll(q["blockid"]));
      bodies_.push_back(r.body);
      return Reply{200, ""};
    }
    if (r.method == "GET") return Session(q["uploadid"], "normal");
    if (r.method == "POST") {
      ++commits_;
      return Session(q["uploadid"], "closed");
    }
    return Error(400, "InvalidRequest");
  }

  std::vector<ReceivedRequest> log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  int commits() {
    std::lock_guard<std::mutex> lock(mu_);
    return commits_;
  }
  std::vector<std::string> bodies() {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }

 private:
  static Reply Error(int status, const std::string& code) {
    return Reply{status,
                 absl::StrCat(R"({"Code":")", code, R"(","Message":"m"})"),
                 {{"x-odps-request-id", "tunnel-req-1"}}};
  }
  Reply Session(const std::string& id, const std::string& status) {
    std::vector<std::string> blocks;
    for (int64_t b : sessions_[id]) blocks.push_back(absl::StrCat(R"({"BlockID":)", b, "}"));
    return Reply{200, absl::StrCat(R"({"UploadID":")", id, R"(","Status":")", status,
                                   R"(","Schema":{"columns":[{"name":"v","type":"STRING",)",
                                   R"("nullable":true}],"partitionKeys":[{"name":"pt",)",
                                   R"("type":"STRING"}]},"UploadedBlockList":[)",
                                   absl::StrJoin(blocks, ","), "]}")};
  }

  std::mutex mu_;
  std::map<std::string, std::set<int64_t>> sessions_;
  std::vector<ReceivedRequest> log_;
  std::vector<std::string> bodies_;
  int commits_ = 0;
};

struct TunnelFixture {
  FakeTunnel tunnel;
  std::unique_ptr<TestHttpServer> server;
  std::unique_ptr<TunnelClient> client;
};

void StartTunnel(TunnelFixture* f) {
  auto server =
      TestHttpServer::Start([f](const ReceivedRequest& r, int) { return f->tunnel.Handle(r); });
  ASSERT_OK(server);
  f->server = *std::move(server);
  TunnelClientOptions options;
  options.endpoint = f->server->url();
  options.project = "test_project";
  options.retry.max_attempts = 1;
  auto client =
      TunnelClient::Create(options, std::make_shared<StaticCredentialsProvider>(Credentials{
                                        "test-ak", "test-sk", "sts-token", std::nullopt}));
  ASSERT_OK(client);
  f->client = *std::move(client);
}

TEST(ParseDownloadSessionJson, ReadsIdCountAndSchema) {
  ASSERT_OK_AND_ASSIGN(
      const DownloadSessionInfo s,
      ParseDownloadSessionJson(R"({"DownloadID":"d1","Status":"normal","RecordCount":42,
          "Schema":{"columns":[{"name":"v","type":"BIGINT","nullable":false}],
                    "partitionKeys":[{"name":"pt","type":"STRING"}]}})"));
  EXPECT_EQ(s.download_id, "d1");
  EXPECT_EQ(s.status, "NORMAL");
  EXPECT_EQ(s.record_count, 42);
  ASSERT_EQ(s.columns.size(), 1u);
  EXPECT_FALSE(s.columns[0].nullable);
  EXPECT_EQ(s.partition_keys[0].name, "pt");
  EXPECT_FALSE(ParseDownloadSessionJson(R"({"UploadID":"u"})").ok());
}

TEST(TunnelClient, UploadsBlocksAndCommitsWhenTheServerHoldsThemAll) {
  TunnelFixture f;
  ASSERT_NO_FATAL_FAILURE(StartTunnel(&f));
  const UploadTarget target{"t1", "pt='20260101'", ""};
  // when a session is created, two blocks are put and the session is committed with a check
  ASSERT_OK_AND_ASSIGN(const UploadSessionInfo session, f.client->CreateUploadSession(target));
  EXPECT_EQ(session.upload_id, "up1");
  EXPECT_EQ(session.status, "NORMAL");
  ASSERT_EQ(session.columns.size(), 1u);
  auto block0 = std::make_shared<const std::string>("\x0a\x01x", 3);
  auto block1 = std::make_shared<const std::string>(std::string(100000, '\xff'));
  ASSERT_OK(f.client->UploadBlock(target, session.upload_id, 0, block0));
  ASSERT_OK(f.client->UploadBlock(target, session.upload_id, 1, block1, "deflate"));
  ASSERT_OK_AND_ASSIGN(
      const UploadSessionInfo committed,
      f.client->CommitUpload(target, session.upload_id, std::vector<int64_t>{1, 0}));
  // then the server got the bytes untouched and one commit, and every request was as §3 says
  EXPECT_EQ(committed.status, "CLOSED");
  EXPECT_EQ(committed.uploaded_block_ids, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(f.tunnel.commits(), 1);
  EXPECT_EQ(f.tunnel.bodies(), (std::vector<std::string>{*block0, *block1}));
  const std::vector<ReceivedRequest> log = f.tunnel.log();
  ASSERT_EQ(log.size(), 5u);  // create, put, put, reload, commit
  EXPECT_EQ(FindHeader(log[0].headers, "Content-Length"), "0");
  EXPECT_EQ(FindHeader(log[2].headers, "Content-Encoding"), "deflate");
  EXPECT_EQ(FindHeader(log[2].headers, "authorization-sts-token"), "sts-token");
  EXPECT_EQ(log[3].method, "GET");
  EXPECT_THAT(log[3].query, ::testing::Contains(QueryParam{"getblockid", "true"}));
  EXPECT_EQ(FindHeader(log[4].headers, "Content-Length"), "0");
}

TEST(TunnelClient, RefusesToCommitWhenBlocksDoNotMatch) {
  TunnelFixture f;
  ASSERT_NO_FATAL_FAILURE(StartTunnel(&f));
  const UploadTarget target{"t1", "pt=20260101", ""};
  ASSERT_OK_AND_ASSIGN(const UploadSessionInfo session, f.client->CreateUploadSession(target));
  ASSERT_OK(f.client->UploadBlock(target, session.upload_id, 0,
                                  std::make_shared<const std::string>("a")));
  const auto committed =
      f.client->CommitUpload(target, session.upload_id, std::vector<int64_t>{0, 1, 2});
  ASSERT_FALSE(committed.ok());
  EXPECT_EQ(committed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(committed.status().message()), HasSubstr("missing on the server [1,2]"));
  EXPECT_EQ(f.tunnel.commits(), 0);
}

TEST(TunnelClient, TunnelJsonErrorsBecomeStatusesWithCodeAndRequestId) {
  TunnelFixture f;
  ASSERT_NO_FATAL_FAILURE(StartTunnel(&f));
  const auto session = f.client->CreateUploadSession(UploadTarget{"t1", "pt=1", ""});
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MaxComputeErrorCode(session.status()), "InvalidPartitionSpec");
  EXPECT_THAT(std::string(session.status().message()), HasSubstr("tunnel-req-1"));
  EXPECT_THAT(std::string(session.status().message()), HasSubstr("t1 partition pt=1"));
  const auto missing = f.client->UploadBlock(UploadTarget{"t1", "pt=20260101", ""}, "nope", 0,
                                             std::make_shared<const std::string>("a"));
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(MaxComputeErrorCode(missing), "NoSuchUpload");
}

}  // namespace
}  // namespace mcsink::maxcompute_client
