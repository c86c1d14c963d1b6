#include "mcsink/maxcompute_client/credentials.h"

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mcsink/maxcompute_client/sts.h"
#include "mcsink/testing/status_matchers.h"
#include "test_http_server.h"

namespace mcsink::maxcompute_client {
namespace {

using ::mcsink::maxcompute_client::testing::ReceivedRequest;
using ::mcsink::maxcompute_client::testing::Reply;
using ::mcsink::maxcompute_client::testing::TestHttpServer;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSecret[] = "S3cr3t-Do-Not-Leak";

// ---- Static, environment and file providers ----

TEST(StaticCredentialsProvider, ReturnsItsCredentialsAndRejectsEmptyOnes) {
  StaticCredentialsProvider sts(Credentials{"id", kSecret, "token", std::nullopt});
  ASSERT_OK_AND_ASSIGN(const Credentials got, sts.Get());
  EXPECT_EQ(got.access_key_id, "id");
  EXPECT_EQ(got.security_token, "token");
  StaticCredentialsProvider empty(Credentials{"id", "", "", std::nullopt});
  EXPECT_EQ(empty.Get().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(Credentials, DebugStringRedactsSecretAndToken) {
  const Credentials c{"LTAI5tExampleKeyId", kSecret, "TokenValue123", absl::UnixEpoch()};
  std::ostringstream os;
  os << c;
  EXPECT_EQ(os.str(), RedactedDebugString(c));
  EXPECT_THAT(os.str(), Not(HasSubstr(kSecret)));
  EXPECT_THAT(os.str(), Not(HasSubstr("TokenValue123")));
  EXPECT_THAT(os.str(), Not(HasSubstr("LTAI5tExampleKeyId")));
  EXPECT_THAT(os.str(), HasSubstr("LTAI****eyId"));
}

TEST(EnvCredentialsProvider, ReadsConfiguredVariablesOnEveryCall) {
  // given variables under custom names
  EnvVariableNames names{"MCSINK_TEST_AK_ID", "MCSINK_TEST_AK_SECRET", "MCSINK_TEST_AK_TOKEN"};
  ::setenv("MCSINK_TEST_AK_ID", "id-1", 1);
  ::setenv("MCSINK_TEST_AK_SECRET", kSecret, 1);
  ::unsetenv("MCSINK_TEST_AK_TOKEN");
  EnvCredentialsProvider provider(names);
  // when / then
  ASSERT_OK_AND_ASSIGN(Credentials got, provider.Get());
  EXPECT_EQ(got.access_key_id, "id-1");
  EXPECT_EQ(got.access_key_secret, kSecret);
  EXPECT_EQ(got.security_token, "");
  ::setenv("MCSINK_TEST_AK_TOKEN", "tok", 1);
  ::setenv("MCSINK_TEST_AK_ID", "id-2", 1);
  ASSERT_OK_AND_ASSIGN(got, provider.Get());
  EXPECT_EQ(got.access_key_id, "id-2");
  EXPECT_EQ(got.security_token, "tok");
  // and a missing secret is named, the id's value is not echoed
  ::unsetenv("MCSINK_TEST_AK_SECRET");
  const auto missing = provider.Get();
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("MCSINK_TEST_AK_SECRET"));
  ::unsetenv("MCSINK_TEST_AK_ID");
  ::unsetenv("MCSINK_TEST_AK_TOKEN");
}

TEST(EnvCredentialsProvider, DefaultsToAlibabaCloudVariableNames) {
  const EnvVariableNames names;
  EXPECT_EQ(names.access_key_id, "ALIBABA_CLOUD_ACCESS_KEY_ID");
  EXPECT_EQ(names.access_key_secret, "ALIBABA_CLOUD_ACCESS_KEY_SECRET");
  EXPECT_EQ(names.security_token, "ALIBABA_CLOUD_SECURITY_TOKEN");
}

TEST(CredentialsFile, ParsesKeysCommentsAndWhitespace) {
  ASSERT_OK_AND_ASSIGN(const Credentials c,
                       ParseCredentialsFile("# rotated by vault\n\n  access_key_id = id-1 \n"
                                            "access_key_secret=sec=ret\r\nsecurity_token = t\n",
                                            "test"));
  EXPECT_EQ(c.access_key_id, "id-1");
  EXPECT_EQ(c.access_key_secret, "sec=ret");
  EXPECT_EQ(c.security_token, "t");
}

TEST(CredentialsFile, ErrorsNameTheLineButNeverTheValue) {
  for (const std::string& content :
       {absl::StrCat("access_key_id = id\naccess_key_secret: ", kSecret, "\n"),
        absl::StrCat("access_key_id = id\naccess_key_secrt = ", kSecret, "\n"),
        absl::StrCat("access_key_secret = ", kSecret, "\n")}) {
    const auto parsed = ParseCredentialsFile(content, "creds.conf");
    ASSERT_FALSE(parsed.ok()) << content;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("creds.conf"));
    EXPECT_THAT(std::string(parsed.status().message()), Not(HasSubstr(kSecret)));
  }
}

TEST(FileCredentialsProvider, RereadsTheFileWhenItChanges) {
  const std::filesystem::path path =
      std::filesystem::path(::testing::TempDir()) / "mcsink_credentials_test.conf";
  const auto write = [&](const std::string& content) {
    std::ofstream(path, std::ios::trunc) << content;
  };
  write("access_key_id = id-1\naccess_key_secret = s1\n");
  FileCredentialsProvider provider(path);
  ASSERT_OK_AND_ASSIGN(Credentials got, provider.Get());
  EXPECT_EQ(got.access_key_id, "id-1");
  // when the file is rewritten (with a distinct modification time, whatever the fs granularity)
  const auto before = std::filesystem::last_write_time(path);
  write("access_key_id = id-2\naccess_key_secret = s2\nsecurity_token = t2\n");
  std::filesystem::last_write_time(path, before + std::chrono::seconds(2));
  ASSERT_OK_AND_ASSIGN(got, provider.Get());
  EXPECT_EQ(got.access_key_id, "id-2");
  EXPECT_EQ(got.security_token, "t2");
  std::filesystem::remove(path);
  const auto gone = provider.Get();
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(gone.status().message()), HasSubstr(path.string()));
}

// ---- Alibaba Cloud RPC (POP) signature ----

QueryParams DocumentedDescribeRegionsParams() {
  return {{"Timestamp", "2016-02-23T12:46:24Z"},
          {"Format", "XML"},
          {"AccessKeyId", "testid"},
          {"Action", "DescribeRegions"},
          {"SignatureMethod", "HMAC-SHA1"},
          {"SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"},
          {"Version", "2014-05-26"},
          {"SignatureVersion", "1.0"}};
}

// Alibaba Cloud's documented RPC signature example (ECS DescribeRegions, secret `testsecret`).
TEST(PopSignature, MatchesTheDocumentedExample) {
  const QueryParams params = DocumentedDescribeRegionsParams();
  EXPECT_EQ(PopStringToSign("GET", params),
            "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
            "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-"
            "4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z"
            "%26Version%3D2014-05-26");
  EXPECT_EQ(PopSignature("GET", params, "testsecret"), "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
}

// An AssumeRole request with characters the encoding rules single out (space, `*`, `~`, `+`,
// `/`, `=`, `:`). Expected value computed independently with Python's hmac, hashlib, base64 and
// urllib.parse.quote(s, safe='~') (which reproduces the documented example above).
TEST(PopSignature, SignsAssumeRoleLikeAnIndependentImplementation) {
  AssumeRoleOptions options;
  options.role_arn = "acs:ram::1234567890123456:role/mcsink-writer";
  options.role_session_name = "kafka-session 1*~";  // invalid for STS, but exercises encoding
  options.duration = absl::Hours(1);
  HttpRequest request;
  request.method = "GET";
  request.query = BuildAssumeRoleQuery(options);
  const Credentials source{"LTAI5tTestKeyId", "test-secret/with+chars", "CAIS+token/with=chars",
                           std::nullopt};
  const absl::Time now =
      absl::FromCivil(absl::CivilSecond(2026, 1, 1, 0, 0, 0), absl::UTCTimeZone());
  SignPopRequest(&request, source, now, "00112233445566778899aabbccddeeff");
  // Signing again (a retry) replaces the per-attempt parameters instead of adding more.
  SignPopRequest(&request, source, now, "00112233445566778899aabbccddeeff");
  std::map<std::string, std::string> params(request.query.begin(), request.query.end());
  EXPECT_EQ(params.size(), request.query.size());
  EXPECT_EQ(params["Timestamp"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(params["SecurityToken"], "CAIS+token/with=chars");
  EXPECT_EQ(params["Signature"], "nbiQpYN/2orgRteJVhy6KLeAhKA=");
}

TEST(PopSignature, PercentEncodingFollowsPopRules) {
  EXPECT_EQ(PercentEncode("a b*c~d"), "a%20b%2Ac~d");
  EXPECT_EQ(PopCanonicalQuery({{"b", "x y"}, {"a", "1*"}}), "a=1%2A&b=x%20y");
}

TEST(RoleArn, BuildsAndValidatesTheArnForm) {
  ASSERT_OK_AND_ASSIGN(const std::string arn, MakeRoleArn("1234567890123456", "mcsink-writer"));
  EXPECT_EQ(arn, "acs:ram::1234567890123456:role/mcsink-writer");
  for (const char* bad :
       {"acs:ram::12ab:role/x", "acs:ram:::role/x", "acs:ram::123:role/", "acs:ram::123:user/x",
        "arn:aws:iam::123:role/x", "acs:ram::123:role/a b"}) {
    EXPECT_FALSE(ValidateRoleArn(bad).ok()) << bad;
  }
}

TEST(AssumeRoleOptions, ValidationReportsEveryProblemAtOnce) {
  AssumeRoleOptions options;
  options.role_arn = "bogus";
  options.role_session_name = "x";
  options.duration = absl::Seconds(60);
  const absl::Status status = ValidateAssumeRoleOptions(options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("bogus"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("role_session_name"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("duration"));
}

TEST(AssumeRoleResponse, ParsesCredentialsAndExpiration) {
  ASSERT_OK_AND_ASSIGN(const Credentials c,
                       ParseAssumeRoleResponse(
                           R"({"RequestId":"r1","AssumedRoleUser":{"Arn":"a","AssumedRoleId":"b"},
        "Credentials":{"AccessKeyId":"STS.id","AccessKeySecret":"sec","SecurityToken":"tok",
        "Expiration":"2026-01-01T01:00:00Z"}})"));
  EXPECT_EQ(c.access_key_id, "STS.id");
  EXPECT_EQ(c.access_key_secret, "sec");
  EXPECT_EQ(c.security_token, "tok");
  EXPECT_EQ(c.expiration,
            absl::FromCivil(absl::CivilSecond(2026, 1, 1, 1, 0, 0), absl::UTCTimeZone()));
}

TEST(AssumeRoleResponse, RejectsIncompleteBodiesWithoutEchoingThem) {
  for (const char* body :
       {"not json", R"({"RequestId":"r"})",
        R"({"Credentials":{"AccessKeyId":"i","AccessKeySecret":"S3cr3t-Do-Not-Leak"}})",
        R"({"Credentials":{"AccessKeyId":"i","AccessKeySecret":"S3cr3t-Do-Not-Leak",
            "SecurityToken":"t","Expiration":"tomorrow"}})"}) {
    const auto parsed = ParseAssumeRoleResponse(body);
    ASSERT_FALSE(parsed.ok()) << body;
    EXPECT_THAT(std::string(parsed.status().message()), Not(HasSubstr(kSecret))) << body;
  }
}

TEST(AssumeRoleResponse, ErrorBodyBecomesStatusWithCodeAndRequestId) {
  HttpResponse response;
  response.status = 403;
  response.body = R"({"RequestId":"req-9","HostId":"sts.aliyuncs.com","Code":"NoPermission",
                      "Message":"You are not authorized to do this action."})";
  const absl::Status status = StsErrorToStatus(response, "acs:ram::1:role/r");
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(status.message()), HasSubstr("NoPermission"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("req-9"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("acs:ram::1:role/r"));
}

TEST(StsRefreshTime, IsTheEarlierOfEightyPercentAndFiveMinutesBeforeExpiry) {
  const absl::Time t0 = absl::UnixEpoch();
  EXPECT_EQ(StsRefreshTime(t0, t0 + absl::Hours(1)), t0 + absl::Minutes(48));
  EXPECT_EQ(StsRefreshTime(t0, t0 + absl::Minutes(15)), t0 + absl::Minutes(10));
  EXPECT_EQ(StsRefreshTime(t0, t0 + absl::Minutes(20)), t0 + absl::Minutes(15));
  // Under 5 minutes of life left (clock skew): 80%, never "now", so STS is not called per request.
  EXPECT_EQ(StsRefreshTime(t0, t0 + absl::Minutes(5)), t0 + absl::Minutes(4));
  EXPECT_EQ(StsRefreshTime(t0, t0 + absl::Minutes(1)), t0 + absl::Seconds(48));
}

// ---- The RAM-role provider against a local STS that checks signatures ----

class FakeSts {
 public:
  // A clock tests move by hand.
  absl::Time Now() const { return absl::FromUnixSeconds(now_seconds_.load()); }
  void Advance(absl::Duration d) { now_seconds_ += absl::ToInt64Seconds(d); }

  // Answers AssumeRole with credentials numbered by request, valid for an hour from Now(),
  // after checking the POP signature with the source secret; or fails with `fail_status`.
  Reply Handle(const ReceivedRequest& request, int number) {
    QueryParams unsigned_params;
    std::string signature;
    std::map<std::string, std::string> params;
    for (const auto& [name, value] : request.query) {
      params[name] = value;
      if (name == "Signature") {
        signature = value;
      } else {
        unsigned_params.emplace_back(name, value);
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      nonces_.push_back(params["SignatureNonce"]);
    }
    if (signature != PopSignature(request.method, unsigned_params, kSecret) ||
        params["Action"] != "AssumeRole" || params["AccessKeyId"] != "ram-user-id" ||
        params["RoleArn"] != "acs:ram::1234567890123456:role/mcsink" ||
        params["DurationSeconds"] != "3600") {
      return Reply{400, R"({"Code":"SignatureDoesNotMatch","Message":"bad","RequestId":"x"})"};
    }
    if (fail_status_ != 0) {
      return Reply{fail_status_, R"({"Code":"NoPermission","Message":"denied","RequestId":"r-1"})"};
    }
    return Reply{200, absl::StrCat(R"({"RequestId":"r","Credentials":{"AccessKeyId":"STS.)", number,
                                   R"(","AccessKeySecret":"tmp-secret","SecurityToken":)",
                                   R"("tok","Expiration":")",
                                   absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", Now() + absl::Hours(1),
                                                    absl::UTCTimeZone()),
                                   R"("}})")};
  }

  std::atomic<int64_t> now_seconds_{1767225600};  // 2026-01-01T00:00:00Z
  std::atomic<int> fail_status_{0};
  std::vector<std::string> nonces() {
    std::lock_guard<std::mutex> lock(mu_);
    return nonces_;
  }

  std::mutex mu_;
  std::vector<std::string> nonces_;  // written on the server's threads
};

struct RamRoleFixture {
  FakeSts sts;
  std::unique_ptr<TestHttpServer> server;
  std::unique_ptr<RamRoleArnCredentialsProvider> provider;
};

void StartRamRole(RamRoleFixture* f) {
  auto server = TestHttpServer::Start(
      [f](const ReceivedRequest& request, int number) { return f->sts.Handle(request, number); });
  ASSERT_OK(server);
  f->server = *std::move(server);
  AssumeRoleOptions options;
  options.role_arn = "acs:ram::1234567890123456:role/mcsink";
  options.sts_endpoint = f->server->url();
  options.retry.max_attempts = 1;
  auto source = std::make_shared<StaticCredentialsProvider>(
      Credentials{"ram-user-id", kSecret, "", std::nullopt});
  auto provider =
      RamRoleArnCredentialsProvider::Create(options, source, [f] { return f->sts.Now(); });
  ASSERT_OK(provider);
  f->provider = *std::move(provider);
}

TEST(RamRoleArnCredentialsProvider, CachesUntilRefreshTimeThenAssumesAgain) {
  RamRoleFixture f;
  ASSERT_NO_FATAL_FAILURE(StartRamRole(&f));
  // when asked twice at the same instant
  ASSERT_OK_AND_ASSIGN(Credentials first, f.provider->Get());
  ASSERT_OK_AND_ASSIGN(Credentials again, f.provider->Get());
  // then STS was called once
  EXPECT_EQ(first.access_key_id, "STS.1");
  EXPECT_EQ(first.access_key_secret, "tmp-secret");
  EXPECT_EQ(first.security_token, "tok");
  EXPECT_EQ(again.access_key_id, "STS.1");
  EXPECT_EQ(f.server->request_count(), 1);
  // when time passes to just before 80% of the hour, still cached; at 80%, refreshed
  f.sts.Advance(absl::Minutes(47));
  ASSERT_OK_AND_ASSIGN(again, f.provider->Get());
  EXPECT_EQ(again.access_key_id, "STS.1");
  f.sts.Advance(absl::Minutes(1));
  ASSERT_OK_AND_ASSIGN(Credentials second, f.provider->Get());
  EXPECT_EQ(second.access_key_id, "STS.2");
  ASSERT_EQ(f.server->request_count(), 2);
  const std::vector<std::string> nonces = f.sts.nonces();
  ASSERT_EQ(nonces.size(), 2u);
  EXPECT_NE(nonces[0], nonces[1]);
}

TEST(RamRoleArnCredentialsProvider, ConcurrentCallersShareOneAssumeRole) {
  RamRoleFixture f;
  ASSERT_NO_FATAL_FAILURE(StartRamRole(&f));
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      const auto c = f.provider->Get();
      if (c.ok() && c->access_key_id == "STS.1") ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(f.server->request_count(), 1);
}

TEST(RamRoleArnCredentialsProvider, FailureIsReportedWithoutTheSecret) {
  RamRoleFixture f;
  ASSERT_NO_FATAL_FAILURE(StartRamRole(&f));
  f.sts.fail_status_ = 403;
  const auto got = f.provider->Get();
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied) << got.status();
  const std::string message(got.status().message());
  EXPECT_THAT(message, HasSubstr("NoPermission"));
  EXPECT_THAT(message, HasSubstr("acs:ram::1234567890123456:role/mcsink"));
  EXPECT_THAT(message, Not(HasSubstr(kSecret)));
}

TEST(RamRoleArnCredentialsProvider, KeepsValidCachedCredentialsWhenARefreshFails) {
  RamRoleFixture f;
  ASSERT_NO_FATAL_FAILURE(StartRamRole(&f));
  ASSERT_OK_AND_ASSIGN(const Credentials first, f.provider->Get());
  // given STS failing after the refresh time but before expiry
  f.sts.fail_status_ = 503;
  f.sts.Advance(absl::Minutes(50));
  ASSERT_OK_AND_ASSIGN(const Credentials cached, f.provider->Get());
  EXPECT_EQ(cached.access_key_id, first.access_key_id);
  EXPECT_EQ(f.server->request_count(), 2);
  // once they expire, the failure surfaces
  f.sts.Advance(absl::Minutes(11));
  EXPECT_FALSE(f.provider->Get().ok());
}

}  // namespace
}  // namespace mcsink::maxcompute_client
