// The server's HTTP answers, driven through Server::Handle (and once over a real socket).
#include "mclocal/server.h"

#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mclocal/http_server.h"
#include "mclocal/render.h"
#include "mclocal/xml.h"
#include "mcsink/maxcompute/record_encoder.h"
#include "mcsink/maxcompute_client/http.h"
#include "mcsink/maxcompute_client/signing.h"
#include "mcsink/maxcompute_client/sts.h"
#include "mcsink/testing/status_matchers.h"

namespace mclocal {
namespace {

namespace fs = std::filesystem;
namespace mc = mcsink::maxcompute;
namespace mcc = mcsink::maxcompute_client;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class MclocalServerTest : public ::testing::Test {
 protected:
  void Start(AuthMode mode) {
    dir_ = fs::temp_directory_path() /
           ("mclocal-server-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    Open(mode);
  }
  // As a restarted process would: a new server on the same data directory.
  void Restart() {
    server_.reset();
    Open(AuthMode::kPermissive);
  }
  void Open(AuthMode mode) {
    auto storage = Storage::Open(dir_);
    ASSERT_OK(storage);
    ServerOptions options;
    options.auth = mode;
    options.keys = {{"test-ak", "test-sk", "", std::nullopt}};
    options.advertised_address = "127.0.0.1:1";
    auto server = Server::Create(options, *std::move(storage), nullptr);
    ASSERT_OK(server);
    server_ = *std::move(server);
  }
  void TearDown() override { fs::remove_all(dir_); }

  HttpResponse Call(std::string method, std::string target, std::string body = "",
                    HeaderList headers = {}) {
    HttpRequest req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.body = std::move(body);
    req.headers = std::move(headers);
    return server_->Handle(req);
  }

  // Signs like an SDK: `path` without /api, query decoded.
  HeaderList Signed(const std::string& method, const std::string& path,
                    const mcc::QueryParams& query, const std::string& secret,
                    absl::Time now = absl::Now(),
                    std::optional<std::string> region = std::nullopt) {
    mcc::Headers headers{{"x-odps-user-agent", "test"}};
    mcc::SignRequest(method, path, query, &headers, {"test-ak", secret, "", {}}, now, region);
    return HeaderList(headers.begin(), headers.end());
  }

  HttpResponse Sql(const std::string& query) {
    return Call("POST", "/api/projects/p/instances",
                "<Instance><Job><Tasks><SQL><Name>AnonymousSQLTask</Name><Query><![CDATA[" + query +
                    "]]></Query></SQL></Tasks></Job></Instance>");
  }

  fs::path dir_;
  std::unique_ptr<Server> server_;
};

TEST_F(MclocalServerTest, RestErrorIsXmlWithTheRequestIdOfTheHeader) {
  Start(AuthMode::kPermissive);
  HttpResponse r = Call("GET", "/api/projects/p/tables/missing");
  EXPECT_EQ(r.status, 404);
  const std::string id(r.Header("x-odps-request-id").value_or(""));
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(r.Header("Content-Type").value_or(""), "application/xml");
  EXPECT_THAT(r.body, HasSubstr("<Error><Code>NoSuchTable</Code><Message>table p.missing does "
                                "not exist</Message><RequestId>" +
                                id + "</RequestId>"));
}

TEST_F(MclocalServerTest, TunnelErrorIsJsonWithCodeMessageAndRequestId) {
  Start(AuthMode::kPermissive);
  HttpResponse r = Call("PUT", "/projects/p/tables/t?uploadid=nope&blockid=0", "",
                        {{"x-odps-tunnel-version", "6"}});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.Header("Content-Type").value_or(""), "application/json");
  const std::string id(r.Header("x-odps-request-id").value_or(""));
  EXPECT_THAT(r.body, HasSubstr("\"Code\":\"NoSuchUpload\""));
  EXPECT_THAT(r.body, HasSubstr("\"RequestId\":\"" + id + "\""));
}

TEST_F(MclocalServerTest, SqlInstanceAnswersLocationStatusTaskStatusAndResult) {
  Start(AuthMode::kPermissive);
  HttpResponse created = Sql("CREATE TABLE t(a BIGINT) PARTITIONED BY (pt STRING);");
  ASSERT_EQ(created.status, 201);
  const std::string location(created.Header("Location").value_or(""));
  ASSERT_THAT(location, HasSubstr("/projects/p/instances/"));
  const std::string id = location.substr(location.rfind('/') + 1);
  EXPECT_THAT(Call("GET", "/api/projects/p/instances/" + id).body,
              HasSubstr("<Status>Terminated</Status>"));
  EXPECT_THAT(Call("GET", "/api/projects/p/instances/" + id + "?taskstatus").body,
              HasSubstr("<Task Type=\"SQL\"><Name>AnonymousSQLTask</Name>"));
  EXPECT_THAT(Call("GET", "/api/projects/p/instances/" + id + "?taskstatus").body,
              HasSubstr("<Status>Success</Status>"));

  HttpResponse bad = Sql("DROP TABLE missing;");
  const std::string bad_loc(bad.Header("Location").value_or(""));
  HttpResponse result = Call(
      "GET", "/api/projects/p/instances/" + bad_loc.substr(bad_loc.rfind('/') + 1) + "?result");
  EXPECT_THAT(result.body, HasSubstr("<Status>Failed</Status>"));
  EXPECT_THAT(result.body, HasSubstr("ODPS-0130131:Table not found"));
}

TEST_F(MclocalServerTest, StrictModeAcceptsV2AndV4AndRefusesWrongSecretAndSkewedDate) {
  Start(AuthMode::kStrict);
  const std::string path = "/projects/p/tables/t";
  const mcc::QueryParams query{{"curr_project", "p"}};
  const std::string target = "/api" + path + "?curr_project=p";
  // Signed correctly (V2, then V4): past auth, the table is simply missing.
  EXPECT_EQ(Call("GET", target, "", Signed("GET", path, query, "test-sk")).status, 404);
  EXPECT_EQ(
      Call("GET", target, "", Signed("GET", path, query, "test-sk", absl::Now(), "cn-hangzhou"))
          .status,
      404);
  HttpResponse wrong = Call("GET", target, "", Signed("GET", path, query, "bad"));
  EXPECT_EQ(wrong.status, 403);
  EXPECT_THAT(wrong.body, HasSubstr("<Code>SignatureNotMatch</Code>"));
  HttpResponse old = Call("GET", target, "",
                          Signed("GET", path, query, "test-sk", absl::Now() - absl::Minutes(16)));
  EXPECT_EQ(old.status, 403);
  EXPECT_THAT(old.body, HasSubstr("AuthenticationRequestExpired"));
  HttpResponse skew_ok = Call(
      "GET", target, "", Signed("GET", path, query, "test-sk", absl::Now() - absl::Minutes(14)));
  EXPECT_EQ(skew_ok.status, 404);
  // A signature over a different query (parameters are signed) is refused.
  EXPECT_EQ(Call("GET", target + "&partitions", "", Signed("GET", path, query, "test-sk")).status,
            403);
  EXPECT_EQ(Call("GET", target).status, 401);
}

TEST_F(MclocalServerTest, StrictModeSignsPlusInTheQueryAsASpaceLikePyodps) {
  Start(AuthMode::kStrict);
  const std::string path = "/projects/p/tables/t";
  const HeaderList headers = Signed("GET", path, {{"partition", "pt=a b"}}, "test-sk");
  // pyodps sends the space as '+', Java as %20: both verify against the same signature.
  EXPECT_EQ(Call("GET", path + "?partition=pt%3Da+b", "", headers).status, 404);
  EXPECT_EQ(Call("GET", path + "?partition=pt%3Da%20b", "", headers).status, 404);
  EXPECT_EQ(Call("GET", path + "?partition=pt%3Dab", "", headers).status, 403);
}

TEST_F(MclocalServerTest, InjectedFaultFailsOnlyTheNthRequestOfItsKind) {
  Start(AuthMode::kPermissive);
  ASSERT_OK(server_->faults().Apply({"rest:fail:503@2"}));
  EXPECT_EQ(Call("GET", "/api/projects/p").status, 200);
  HttpResponse failed = Call("GET", "/api/projects/p");
  EXPECT_EQ(failed.status, 503);
  EXPECT_THAT(failed.body, HasSubstr("injected fault on rest request #2"));
  EXPECT_EQ(Call("GET", "/api/projects/p").status, 200);
  ASSERT_OK(server_->faults().Apply({"rest:drop"}));
  EXPECT_TRUE(Call("GET", "/api/projects/p").drop_connection);
}

// Faults after the work: the commit is published but the client gets a 5xx (or nothing); a
// repeated commit then reports the session closed, which is how a client resolves the doubt.
TEST_F(MclocalServerTest, FaultAfterCommitPublishesTheCommitButAnswersAnError) {
  Start(AuthMode::kPermissive);
  ASSERT_EQ(Sql("CREATE TABLE t(a BIGINT) PARTITIONED BY (pt STRING);").status, 201);
  ASSERT_EQ(Sql("ALTER TABLE t ADD PARTITION (pt='x');").status, 201);
  const HeaderList tunnel = {{"x-odps-tunnel-version", "6"}};
  auto open_session = [&] {
    HttpResponse r = Call("POST", "/projects/p/tables/t?uploads&partition=pt%3Dx", "", tunnel);
    EXPECT_EQ(r.status, 200) << r.body;
    const auto at = r.body.find("\"UploadID\":\"");
    return at == std::string::npos ? std::string()
                                   : r.body.substr(at + 12, r.body.find('"', at + 12) - at - 12);
  };
  const std::string id = open_session();
  ASSERT_FALSE(id.empty());
  ASSERT_OK(server_->faults().Apply({"commit:fail:503:after@1"}));
  const std::string commit = "/projects/p/tables/t?partition=pt%3Dx&uploadid=" + id;
  EXPECT_EQ(Call("POST", commit, "", tunnel).status, 503);
  HttpResponse again = Call("POST", commit, "", tunnel);
  EXPECT_EQ(again.status, 200);
  EXPECT_THAT(again.body, HasSubstr("\"Status\":\"closed\""));
  EXPECT_THAT(server_->faults().Describe(), HasSubstr("commit:fail:503:after@1 seen=2 fired=1"));

  ASSERT_OK(server_->faults().Apply({"commit:drop:after"}));
  const std::string second = open_session();
  HttpResponse dropped =
      Call("POST", "/projects/p/tables/t?partition=pt%3Dx&uploadid=" + second, "", tunnel);
  EXPECT_TRUE(dropped.drop_connection);
  server_->faults().Clear();
  EXPECT_THAT(
      Call("GET", "/projects/p/tables/t?partition=pt%3Dx&uploadid=" + second, "", tunnel).body,
      HasSubstr("\"Status\":\"closed\""));
}

TEST_F(MclocalServerTest, ExpireFaultExpiresTheSessionTheRequestNames) {
  Start(AuthMode::kPermissive);
  ASSERT_EQ(Sql("CREATE TABLE t(a BIGINT) PARTITIONED BY (pt STRING);").status, 201);
  ASSERT_EQ(Sql("ALTER TABLE t ADD PARTITION (pt='x');").status, 201);
  const HeaderList tunnel = {{"x-odps-tunnel-version", "6"}};
  HttpResponse created = Call("POST", "/projects/p/tables/t?uploads&partition=pt%3Dx", "", tunnel);
  const auto at = created.body.find("\"UploadID\":\"");
  ASSERT_NE(at, std::string::npos) << created.body;
  const std::string id = created.body.substr(at + 12, created.body.find('"', at + 12) - at - 12);
  ASSERT_OK(server_->faults().Apply({"commit:expire@1"}));
  HttpResponse commit =
      Call("POST", "/projects/p/tables/t?partition=pt%3Dx&uploadid=" + id, "", tunnel);
  EXPECT_EQ(commit.status / 100, 4) << commit.body;
  EXPECT_THAT(commit.body, HasSubstr("expired"));
  EXPECT_THAT(server_->faults().Describe(), HasSubstr("expire:" + id));
}

// A restart forgets open sessions, not commits: a client whose commit answer was lost asks again
// (GET or a repeated commit) and must learn the session is closed, not re-upload its rows.
TEST_F(MclocalServerTest, CommittedSessionIsClosedAndRecommittableAfterRestart) {
  // Given a session committed with blocks 0 (2 rows) and 3 (3 rows), and another left open
  Start(AuthMode::kPermissive);
  ASSERT_EQ(Sql("CREATE TABLE t(a BIGINT) PARTITIONED BY (pt STRING);").status, 201);
  ASSERT_EQ(Sql("ALTER TABLE t ADD PARTITION (pt='x');").status, 201);
  const HeaderList tunnel = {{"x-odps-tunnel-version", "6"}};
  const std::string base = "/projects/p/tables/t?partition=pt%3Dx";
  auto field = [](const std::string& body, const std::string& name) {
    const std::string key = "\"" + name + "\":";
    const auto at = body.find(key);
    if (at == std::string::npos) return std::string();
    const auto start = at + key.size();
    return body.substr(start, body.find_first_of(",}", start) - start);
  };
  auto open_session = [&] {
    HttpResponse r = Call("POST", base + "&uploads", "", tunnel);
    EXPECT_EQ(r.status, 200) << r.body;
    const std::string quoted = field(r.body, "UploadID");
    return quoted.size() > 2 ? quoted.substr(1, quoted.size() - 2) : std::string();
  };
  auto put_block = [&](const std::string& id, int block, int rows) {
    const mc::TableSchema schema{{{"a", {mc::TypeKind::kBigint}, true}}, {}};
    std::vector<mc::Row> data(rows, mc::Row{mc::Value{int64_t{7}}});
    auto body = mc::EncodeRecordStream(schema, data);
    ASSERT_OK(body);
    HttpResponse r =
        Call("PUT", absl::StrCat(base, "&uploadid=", id, "&blockid=", block), *body, tunnel);
    EXPECT_EQ(r.status, 200) << r.body;
  };
  auto record_count = [&] {
    return field(Call("POST", base + "&downloads", "", tunnel).body, "RecordCount");
  };
  const std::string committed = open_session();
  const std::string open = open_session();
  ASSERT_FALSE(committed.empty());
  ASSERT_FALSE(open.empty());
  put_block(committed, 0, 2);
  put_block(committed, 3, 3);
  put_block(open, 0, 4);
  ASSERT_EQ(Call("POST", base + "&uploadid=" + committed, "", tunnel).status, 200);
  ASSERT_EQ(record_count(), "5");

  // When mclocal restarts on the same data directory
  Restart();

  // Then GET reports the committed session closed with its blocks
  HttpResponse got = Call("GET", base + "&uploadid=" + committed, "", tunnel);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(field(got.body, "Status"), "\"closed\"");
  EXPECT_THAT(got.body, HasSubstr("\"BlockID\":0,"));
  EXPECT_THAT(got.body, HasSubstr("\"BlockID\":3,"));
  EXPECT_THAT(got.body, HasSubstr("\"RecordCount\":3"));
  // And a repeated commit succeeds without adding rows
  HttpResponse again = Call("POST", base + "&uploadid=" + committed, "", tunnel);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(field(again.body, "Status"), "\"closed\"");
  EXPECT_EQ(record_count(), "5");
  // And the session is only known on its own table
  ASSERT_EQ(Sql("CREATE TABLE u(a BIGINT) PARTITIONED BY (pt STRING);").status, 201);
  EXPECT_EQ(
      Call("GET", "/projects/p/tables/u?partition=pt%3Dx&uploadid=" + committed, "", tunnel).status,
      404);
  // And the session that was never committed is gone, as before
  HttpResponse forgotten = Call("GET", base + "&uploadid=" + open, "", tunnel);
  EXPECT_EQ(forgotten.status, 404);
  EXPECT_THAT(forgotten.body, HasSubstr("NoSuchUpload"));
  EXPECT_EQ(Call("POST", base + "&uploadid=" + open, "", tunnel).status, 404);
  EXPECT_EQ(record_count(), "5");
}

// A dropped table takes its committed sessions along; a re-created one does not inherit them.
TEST_F(MclocalServerTest, CommittedSessionIsForgottenWithItsDroppedTable) {
  Start(AuthMode::kPermissive);
  ASSERT_EQ(Sql("CREATE TABLE t(a BIGINT);").status, 201);
  const HeaderList tunnel = {{"x-odps-tunnel-version", "6"}};
  HttpResponse created = Call("POST", "/projects/p/tables/t?uploads", "", tunnel);
  const auto at = created.body.find("\"UploadID\":\"");
  ASSERT_NE(at, std::string::npos) << created.body;
  const std::string id = created.body.substr(at + 12, created.body.find('"', at + 12) - at - 12);
  ASSERT_EQ(Call("POST", "/projects/p/tables/t?uploadid=" + id, "", tunnel).status, 200);
  Restart();
  ASSERT_EQ(Call("GET", "/projects/p/tables/t?uploadid=" + id, "", tunnel).status, 200);

  ASSERT_EQ(Sql("DROP TABLE t;").status, 201);
  ASSERT_EQ(Sql("CREATE TABLE t(a BIGINT);").status, 201);

  EXPECT_EQ(Call("GET", "/projects/p/tables/t?uploadid=" + id, "", tunnel).status, 404);
}

// Our client's STS provider against mclocal's AssumeRole, then the temporary key on a request.
TEST_F(MclocalServerTest, AssumeRoleFromOurStsProviderYieldsCredentialsStrictModeAccepts) {
  Start(AuthMode::kStrict);
  Server* server = server_.get();
  auto http =
      HttpServer::Start("127.0.0.1:0", [server](HttpRequest& req) { return server->Handle(req); });
  ASSERT_OK(http);
  mcc::AssumeRoleOptions options;
  options.role_arn = "acs:ram::1234567890:role/aliyunkafkamaxcomputeuser1";
  options.sts_endpoint = absl::StrCat("http://127.0.0.1:", (*http)->port());
  options.retry.max_attempts = 1;
  auto source = std::make_shared<mcc::StaticCredentialsProvider>(
      mcc::Credentials{"test-ak", "test-sk", "", std::nullopt});
  ASSERT_OK_AND_ASSIGN(auto provider, mcc::RamRoleArnCredentialsProvider::Create(options, source));
  ASSERT_OK_AND_ASSIGN(mcc::Credentials sts, provider->Get());
  EXPECT_THAT(sts.access_key_id, StartsWith("STS."));
  ASSERT_FALSE(sts.security_token.empty());
  ASSERT_TRUE(sts.expiration.has_value());

  const std::string path = "/projects/p/tables/t";
  mcc::Headers headers;
  mcc::SignRequest("GET", path, {}, &headers, sts, absl::Now(), std::nullopt);
  EXPECT_EQ(Call("GET", path, "", HeaderList(headers.begin(), headers.end())).status, 404);
  mcc::SetHeader(&headers, mcc::kStsTokenHeader, "forged");
  HttpResponse forged = Call("GET", path, "", HeaderList(headers.begin(), headers.end()));
  EXPECT_EQ(forged.status, 403);
  EXPECT_THAT(forged.body, HasSubstr("InvalidSecurityToken"));

  // A source key with the wrong secret cannot assume the role.
  auto wrong = std::make_shared<mcc::StaticCredentialsProvider>(
      mcc::Credentials{"test-ak", "bad", "", std::nullopt});
  ASSERT_OK_AND_ASSIGN(auto refused, mcc::RamRoleArnCredentialsProvider::Create(options, wrong));
  auto denied = refused->Get();
  ASSERT_FALSE(denied.ok());
  EXPECT_THAT(std::string(denied.status().message()), HasSubstr("SignatureDoesNotMatch"));
  (*http)->Stop();
}

TEST(MclocalFaultRules, ParseAndReject) {
  ASSERT_OK_AND_ASSIGN(FaultRule r, ParseFaultRule("put_block:fail:503@3+"));
  EXPECT_EQ(r.kind, "put_block");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.nth, 3);
  EXPECT_TRUE(r.and_later);
  ASSERT_OK_AND_ASSIGN(FaultRule d, ParseFaultRule("read:delay:250"));
  EXPECT_EQ(d.action, FaultRule::Action::kDelay);
  EXPECT_EQ(d.delay_ms, 250);
  EXPECT_FALSE(ParseFaultRule("commit:explode").ok());
  EXPECT_FALSE(ParseFaultRule("commit:fail:200").ok());
  EXPECT_FALSE(ParseFaultRule("commit:fail@0").ok());
  ASSERT_OK_AND_ASSIGN(FaultRule late, ParseFaultRule("commit:delay:3000:after@2"));
  EXPECT_EQ(late.action, FaultRule::Action::kDelay);
  EXPECT_TRUE(late.after);
  EXPECT_EQ(late.delay_ms, 3000);
  EXPECT_EQ(late.nth, 2);
  ASSERT_OK_AND_ASSIGN(FaultRule crash, ParseFaultRule("commit:crash:before"));
  EXPECT_EQ(crash.action, FaultRule::Action::kCrash);
  EXPECT_FALSE(crash.after);
  ASSERT_OK_AND_ASSIGN(FaultRule expire, ParseFaultRule("put_block:expire@3+"));
  EXPECT_EQ(expire.action, FaultRule::Action::kExpire);
  EXPECT_FALSE(ParseFaultRule("commit:expire:after").ok());
  EXPECT_FALSE(ParseFaultRule("commit:drop:5").ok());
}

TEST(MclocalHttpServer, PortZeroBindsAFreePortThatAnswers) {
  auto server = HttpServer::Start("127.0.0.1:0",
                                  [](HttpRequest& req) {
                                    HttpResponse r;
                                    r.body = req.method + " " + req.target + " " +
                                             std::to_string(req.body.size());
                                    return r;
                                  },
                                  {});
  ASSERT_OK(server);
  ASSERT_GT((*server)->port(), 0);
  mcc::HttpClientOptions options;
  options.base_url = absl::StrCat("http://127.0.0.1:", (*server)->port());
  auto client = mcc::HttpClient::Create(options);
  ASSERT_OK(client);
  mcc::HttpRequest req;
  req.method = "PUT";
  req.path = "/x";
  req.SetBody(std::string(100000, 'z'));
  for (int i = 0; i < 3; ++i) {  // keep-alive: the same connection serves several requests
    ASSERT_OK_AND_ASSIGN(mcc::HttpResponse resp, (*client)->Send(req));
    EXPECT_EQ(resp.status, 200);
    EXPECT_EQ(resp.body, "PUT /x 100000");
  }
  (*server)->Stop();
}

TEST(MclocalConsoleTable, MatchesTheSeedWalkthrough) {
  const std::string table =
      RenderConsoleTable({"topic", "partition", "offset", "key", "value", "pt"},
                         {"STRING", "BIGINT", "BIGINT", "STRING", "STRING", "STRING"},
                         {{"maxcompute-test-input", "0", "0", "1", "1", "11-17-2020 14"}});
  EXPECT_EQ(table,
            "+----------------------+------------+------------+-----+-------+---------------+\n"
            "| topic                | partition  | offset     | key | value | pt            |\n"
            "+----------------------+------------+------------+-----+-------+---------------+\n"
            "| maxcompute-test-input| 0          | 0          | 1   | 1     | 11-17-2020 14 |\n"
            "+----------------------+------------+------------+-----+-------+---------------+\n");
}

TEST(MclocalCsv, RoundTripsQuotesNewlinesAndNulls) {
  const std::vector<std::vector<std::optional<std::string>>> rows{
      {"a \"q\",\nb", std::nullopt, "3"}};
  const std::string csv = ToCsv({"x", "y", "z"}, rows, {true, true, false});
  std::vector<std::string> names;
  std::vector<std::vector<std::optional<std::string>>> back;
  ASSERT_OK(ParseCsv(csv, &names, &back));
  EXPECT_EQ(names, (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_EQ(back, rows);
}

}  // namespace
}  // namespace mclocal

namespace mclocal {
namespace {

TEST(MclocalXml, ReadsElementTextWithCdataEntitiesAndSelfClosingTags) {
  const std::string xml =
      "<Instance><Job><Name>job</Name><Tasks><SQL><Name>T&amp;1</Name><Config/>"
      "<Query><![CDATA[select '<x>' ]]>&#x4E2D;<![CDATA[;]]></Query></SQL></Tasks></Job>"
      "</Instance>";
  EXPECT_EQ(XmlElementText(xml, "Name"), "job");
  EXPECT_EQ(XmlElementText(xml, "Config"), "");
  EXPECT_EQ(XmlElementText(xml, "Query"), "select '<x>' \xE4\xB8\xAD;");
  EXPECT_EQ(XmlElementText(xml, "Missing"), std::nullopt);
  EXPECT_EQ(XmlElementText("<Namespace>x</Namespace>", "Name"), std::nullopt);
  EXPECT_EQ(XmlUnescape(XmlEscape("a<b>&\"'")), "a<b>&\"'");
}

}  // namespace
}  // namespace mclocal
