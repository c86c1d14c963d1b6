// RestClient against a local HTTP server that plays MaxCompute with canned §2 bodies and verifies
// every request's signature with the same signing code a strict server uses.
#include "mcsink/maxcompute_client/rest_client.h"

#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
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

constexpr char kSecret[] = "test-sk";

// Empty when the request is correctly signed by `test-ak`; otherwise why not.
std::string VerifySignature(const ReceivedRequest& r) {
  const auto authorization = FindHeader(r.headers, "Authorization");
  if (!authorization) return "no Authorization";
  auto auth = ParseAuthorization(*authorization);
  if (!auth.ok()) return std::string(auth.status().message());
  if (auth->access_key_id != "test-ak") return "wrong access key id";
  const std::string canonical =
      BuildCanonicalString(r.method, StripPathPrefix(r.path, "/api"), r.query, r.headers);
  if (!SignaturesEqual(ComputeSignature(canonical, kSecret, auth->v4_scope), auth->signature)) {
    return "signature mismatch over: " + canonical;
  }
  return "";
}

std::string Param(const ReceivedRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.query) {
    if (k == name) return v.empty() ? "<present>" : v;
  }
  return "<absent>";
}

Reply XmlError(int status, const std::string& code, const std::string& message) {
  return Reply{status, absl::StrCat("<Error><Code>", code, "</Code><Message>", message,
                                    "</Message><RequestId>rid-1</RequestId></Error>")};
}

RestClientOptions Options(const TestHttpServer& server) {
  RestClientOptions options;
  options.endpoint = server.url() + "/api";
  options.project = "test_project";
  options.retry.max_attempts = 2;
  options.retry.initial_backoff = absl::Milliseconds(1);
  options.sql_poll_interval = absl::Milliseconds(1);
  options.sql_poll_max_interval = absl::Milliseconds(2);
  return options;
}

std::shared_ptr<CredentialsProvider> TestCredentials() {
  return std::make_shared<StaticCredentialsProvider>(
      Credentials{"test-ak", kSecret, "", std::nullopt});
}

TEST(RestClient, GetsATableWithSignedRequestsInV2AndV4) {
  for (const std::optional<std::string>& region :
       {std::optional<std::string>(), std::optional<std::string>("cn-hangzhou")}) {
    ASSERT_OK_AND_ASSIGN(auto server, TestHttpServer::Start([](const ReceivedRequest& r, int) {
                           if (const std::string why = VerifySignature(r); !why.empty()) {
                             return XmlError(403, "SignatureNotMatch", why);
                           }
                           if (r.path != "/api/projects/test_project/tables/t1" ||
                               Param(r, "curr_project") != "test_project") {
                             return XmlError(404, "NoSuchObject", r.path);
                           }
                           return Reply{200,
                                        "<Table><Name>t1</Name><Project>test_project</Project>"
                                        "<Type>MANAGED_TABLE</Type><Schema><![CDATA[{\"columns\":"
                                        "[{\"name\":\"id\",\"type\":\"BIGINT\"}],"
                                        "\"partitionKeys\":[{\"name\":\"pt\",\"type\":"
                                        "\"STRING\"}]}]]></Schema></Table>"};
                         }));
    RestClientOptions options = Options(*server);
    options.region = region;
    ASSERT_OK_AND_ASSIGN(auto client, RestClient::Create(options, TestCredentials()));
    ASSERT_OK_AND_ASSIGN(const TableInfo table, client->GetTable("t1"));
    EXPECT_EQ(table.name, "t1");
    ASSERT_EQ(table.columns.size(), 1u);
    EXPECT_EQ(table.columns[0].type, "BIGINT");
    ASSERT_EQ(table.partition_keys.size(), 1u);
    const ReceivedRequest sent = server->requests().at(0);
    EXPECT_EQ(FindHeader(sent.headers, "x-odps-user-agent"), "mcsink/0.1");
    const auto auth = ParseAuthorization(*FindHeader(sent.headers, "Authorization"));
    ASSERT_OK(auth);
    EXPECT_EQ(auth->v4_scope.has_value(), region.has_value());
  }
}

TEST(RestClient, MissingTableIsNotFoundWithTheServiceCode) {
  ASSERT_OK_AND_ASSIGN(auto server, TestHttpServer::Start([](const ReceivedRequest&, int) {
                         return XmlError(404, "NoSuchTable", "ODPS-0130131:Table not found");
                       }));
  ASSERT_OK_AND_ASSIGN(auto client, RestClient::Create(Options(*server), TestCredentials()));
  const auto table = client->GetTable("nope", "sch");
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(MaxComputeErrorCode(table.status()), "NoSuchTable");
  EXPECT_THAT(std::string(table.status().message()), HasSubstr("test_project.nope"));
  EXPECT_THAT(std::string(table.status().message()), HasSubstr("rid-1"));
  EXPECT_EQ(server->requests().at(0).path, "/api/projects/test_project/schemas/sch/tables/nope");
  EXPECT_EQ(server->request_count(), 1);  // 404 is not retried
}

TEST(RestClient, ListsPartitionsAcrossPages) {
  ASSERT_OK_AND_ASSIGN(auto server, TestHttpServer::Start([](const ReceivedRequest& r, int n) {
                         if (!VerifySignature(r).empty()) return XmlError(403, "Sig", "");
                         if (n == 1) {
                           return Reply{200,
                                        "<Partitions><Marker>m1</Marker><Partition><Column "
                                        "Name=\"pt\" Value=\"1\"/></Partition><Partition><Column "
                                        "Name=\"pt\" Value=\"2\"/></Partition></Partitions>"};
                         }
                         return Reply{200,
                                      "<Partitions><Marker/><Partition><Column Name=\"pt\" "
                                      "Value=\"3\"/></Partition></Partitions>"};
                       }));
  ASSERT_OK_AND_ASSIGN(auto client, RestClient::Create(Options(*server), TestCredentials()));
  ASSERT_OK_AND_ASSIGN(const auto partitions, client->ListPartitions("t1", "", 2));
  ASSERT_EQ(partitions.size(), 3u);
  EXPECT_EQ(partitions[2].Spec(), "pt=3");
  const auto requests = server->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(Param(requests[0], "partitions"), "<present>");
  EXPECT_EQ(Param(requests[0], "expectmarker"), "true");
  EXPECT_EQ(Param(requests[0], "maxitems"), "2");
  EXPECT_EQ(Param(requests[0], "marker"), "<absent>");
  EXPECT_EQ(Param(requests[1], "marker"), "m1");
}

// A scripted SQL instance: Running on the first poll, then Terminated with `task_status`.
class FakeInstances {
 public:
  explicit FakeInstances(std::string task_status) : task_status_(std::move(task_status)) {}

  Reply Handle(const ReceivedRequest& r) {
    if (const std::string why = VerifySignature(r); !why.empty()) {
      return XmlError(403, "SignatureNotMatch", why);
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (r.method == "POST" && r.path == "/api/projects/test_project/instances") {
      submitted_ = r.body;
      return Reply{201, "", {{"Location", "http://x/api/projects/test_project/instances/inst1"}}};
    }
    if (r.path != "/api/projects/test_project/instances/inst1") return XmlError(404, "NoSuch", "");
    if (Param(r, "taskstatus") == "<present>") {
      if (++polls_ == 1) return Reply{200, "<Instance><Status>Running</Status></Instance>"};
      return Reply{200, absl::StrCat("<Instance><Status>Terminated</Status><Tasks><Task "
                                     "Type=\"SQL\"><Name>AnonymousSQLTask</Name><Status>",
                                     task_status_, "</Status></Task></Tasks></Instance>")};
    }
    if (Param(r, "result") == "<present>") {
      return Reply{200, absl::StrCat("<Instance><Tasks><Task Type=\"SQL\"><Name>AnonymousSQLTask"
                                     "</Name><Result Format=\"text\">",
                                     task_status_ == "Success" ? "OK" : "ODPS-0130071: bad column",
                                     "</Result><Status>", task_status_,
                                     "</Status></Task></Tasks></Instance>")};
    }
    return XmlError(400, "InvalidParameter", "");
  }

  std::string submitted() {
    std::lock_guard<std::mutex> lock(mu_);
    return submitted_;
  }

 private:
  const std::string task_status_;
  std::mutex mu_;
  int polls_ = 0;
  std::string submitted_;
};

TEST(RestClient, RunsSqlUntilTheInstanceSucceeds) {
  FakeInstances instances("Success");
  ASSERT_OK_AND_ASSIGN(auto server, TestHttpServer::Start([&](const ReceivedRequest& r, int) {
                         return instances.Handle(r);
                       }));
  ASSERT_OK_AND_ASSIGN(auto client, RestClient::Create(Options(*server), TestCredentials()));
  SqlTask task;
  task.query = "ALTER TABLE test_project.t1 ADD IF NOT EXISTS PARTITION (pt='1')";
  ASSERT_OK_AND_ASSIGN(const auto results, client->RunSql(task));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].text, "OK");
  EXPECT_THAT(instances.submitted(), HasSubstr("PARTITION (pt='1');]]></Query>"));
  EXPECT_EQ(server->request_count(), 4);  // create, Running, Terminated, result
}

TEST(RestClient, FailedSqlReturnsTheTaskErrorText) {
  FakeInstances instances("Failed");
  ASSERT_OK_AND_ASSIGN(auto server, TestHttpServer::Start([&](const ReceivedRequest& r, int) {
                         return instances.Handle(r);
                       }));
  ASSERT_OK_AND_ASSIGN(auto client, RestClient::Create(Options(*server), TestCredentials()));
  SqlTask task;
  task.query = "ALTER TABLE t1 ADD PARTITION (nope='1');";
  const auto results = client->RunSql(task);
  ASSERT_FALSE(results.ok());
  EXPECT_EQ(results.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(results.status().message()), HasSubstr("ODPS-0130071: bad column"));
  EXPECT_THAT(std::string(results.status().message()), HasSubstr("inst1"));
}

TEST(RestClient, DiscoversTheTunnelEndpointWithTheServiceScheme) {
  ASSERT_OK_AND_ASSIGN(
      auto server, TestHttpServer::Start([](const ReceivedRequest& r, int) {
        if (r.path != "/api/projects/test_project/tunnel" || Param(r, "service") != "<present>") {
          return XmlError(404, "NoSuch", "");
        }
        return Reply{200, "127.0.0.1:18081\n"};
      }));
  ASSERT_OK_AND_ASSIGN(auto client, RestClient::Create(Options(*server), TestCredentials()));
  ASSERT_OK_AND_ASSIGN(const std::string endpoint, client->GetTunnelEndpoint());
  EXPECT_EQ(endpoint, "http://127.0.0.1:18081");
}

}  // namespace
}  // namespace mcsink::maxcompute_client
