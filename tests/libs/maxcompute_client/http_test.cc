#include "mcsink/maxcompute_client/http.h"

#include <atomic>

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

// Fast retries so the tests spend no time backing off.
HttpClientOptions FastOptions(const std::string& base_url, int max_attempts) {
  HttpClientOptions options;
  options.base_url = base_url;
  options.timeout = absl::Seconds(10);
  options.retry.max_attempts = max_attempts;
  options.retry.initial_backoff = absl::Milliseconds(1);
  options.retry.max_backoff = absl::Milliseconds(5);
  return options;
}

std::string Param(const QueryParams& query, const std::string& name) {
  for (const auto& [k, v] : query) {
    if (k == name) return v;
  }
  return "<absent>";
}

HttpRequest Get(std::string path) {
  HttpRequest request;
  request.method = "GET";
  request.path = std::move(path);
  return request;
}

TEST(HttpClient, RetriesServiceUnavailableUntilSuccess) {
  // given a server that answers 503 twice, then 200
  ASSERT_OK_AND_ASSIGN(auto server, TestHttpServer::Start([](const ReceivedRequest&, int n) {
                         return n <= 2 ? Reply{503, "busy"} : Reply{200, "done"};
                       }));
  ASSERT_OK_AND_ASSIGN(auto client, HttpClient::Create(FastOptions(server->url(), 5)));
  // when
  ASSERT_OK_AND_ASSIGN(const HttpResponse response, client->Send(Get("/projects/p")));
  // then the third attempt's answer comes back
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "done");
  EXPECT_EQ(server->request_count(), 3);
}

TEST(HttpClient, ReturnsLastRetryableResponseWhenAttemptsRunOut) {
  ASSERT_OK_AND_ASSIGN(auto server, TestHttpServer::Start([](const ReceivedRequest&, int) {
                         return Reply{500, "<Error><Code>InternalError</Code></Error>"};
                       }));
  ASSERT_OK_AND_ASSIGN(auto client, HttpClient::Create(FastOptions(server->url(), 3)));
  ASSERT_OK_AND_ASSIGN(const HttpResponse response, client->Send(Get("/projects/p")));
  EXPECT_EQ(response.status, 500);
  EXPECT_THAT(response.body, HasSubstr("InternalError"));
  EXPECT_EQ(server->request_count(), 3);
}

TEST(HttpClient, DoesNotRetryClientErrorsOrNotImplemented) {
  for (const int status : {400, 403, 404, 409, 501}) {
    ASSERT_OK_AND_ASSIGN(auto server, TestHttpServer::Start([status](const ReceivedRequest&, int) {
                           return Reply{status, "no"};
                         }));
    ASSERT_OK_AND_ASSIGN(auto client, HttpClient::Create(FastOptions(server->url(), 5)));
    ASSERT_OK_AND_ASSIGN(const HttpResponse response, client->Send(Get("/projects/p")));
    EXPECT_EQ(response.status, status);
    EXPECT_EQ(server->request_count(), 1) << "status " << status;
  }
}

TEST(HttpClient, RetriesTooManyRequests) {
  ASSERT_OK_AND_ASSIGN(
      auto server, TestHttpServer::Start([](const ReceivedRequest&, int n) {
        return n == 1 ? Reply{429, "slow down", {{"Retry-After", "0"}}} : Reply{200, "ok"};
      }));
  ASSERT_OK_AND_ASSIGN(auto client, HttpClient::Create(FastOptions(server->url(), 5)));
  ASSERT_OK_AND_ASSIGN(const HttpResponse response, client->Send(Get("/x")));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(server->request_count(), 2);
}

TEST(HttpClient, TimesOutAndRetriesAServerThatDoesNotAnswer) {
  // given a server that never answers
  ASSERT_OK_AND_ASSIGN(auto server, TestHttpServer::Start([](const ReceivedRequest&, int) {
                         return Reply{.hold = true};
                       }));
  HttpClientOptions options = FastOptions(server->url(), 2);
  options.timeout = absl::Milliseconds(300);
  ASSERT_OK_AND_ASSIGN(auto client, HttpClient::Create(options));
  // when
  const auto response = client->Send(Get("/slow"));
  // then both attempts timed out and the error says so
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded) << response.status();
  EXPECT_THAT(std::string(response.status().message()), HasSubstr("/slow"));
  EXPECT_THAT(std::string(response.status().message()), HasSubstr("2 attempt"));
  EXPECT_TRUE(server->WaitForRequests(2, absl::Seconds(10)));
  EXPECT_EQ(server->request_count(), 2);
}

TEST(HttpClient, ConnectionRefusedIsUnavailable) {
  // given a port nobody listens on (a server that was started and stopped)
  std::string url;
  {
    ASSERT_OK_AND_ASSIGN(
        auto server, TestHttpServer::Start([](const ReceivedRequest&, int) { return Reply{}; }));
    url = server->url();
  }
  std::atomic<int> attempts{0};
  ASSERT_OK_AND_ASSIGN(auto counting,
                       HttpClient::Create(FastOptions(url, 3), [&attempts](HttpRequest*) {
                         ++attempts;
                         return absl::OkStatus();
                       }));
  const auto response = counting->Send(Get("/x"));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
  EXPECT_EQ(attempts.load(), 3);
}

TEST(HttpClient, SigningHookRunsOnEveryAttemptAndServerVerifiesIt) {
  // given a server on a `/api` mount that answers 503 once, and a client signing every attempt
  ASSERT_OK_AND_ASSIGN(auto server, TestHttpServer::Start([](const ReceivedRequest&, int n) {
                         return n == 1 ? Reply{503, ""} : Reply{201, ""};
                       }));
  const Credentials credentials{"test-ak", "test-sk", "token-1", std::nullopt};
  int attempt = 0;
  ASSERT_OK_AND_ASSIGN(
      auto client,
      HttpClient::Create(FastOptions(server->url() + "/api", 3), [&](HttpRequest* request) {
        ++attempt;
        request->headers.emplace_back("x-odps-attempt", std::to_string(attempt));
        SignRequest(request->method, request->path, request->query, &request->headers, credentials,
                    absl::Now(), std::nullopt);
        return absl::OkStatus();
      }));
  HttpRequest request;
  request.method = "PUT";
  request.path = "/projects/test project/tables/t1";
  request.query = {{"partition", "pt=20260101"}, {"uploadid", "abc"}, {"blockid", "0"}};
  request.headers = {{"Content-Type", "application/octet-stream"}, {"x-odps-tunnel-version", "6"}};
  std::string body(1 << 20, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7);
  request.SetBody(body);
  // when
  ASSERT_OK_AND_ASSIGN(const HttpResponse response, client->Send(request));
  // then two attempts were made, each signed afresh, and each verifies on the server side
  EXPECT_EQ(response.status, 201);
  const std::vector<ReceivedRequest> received = server->requests();
  ASSERT_EQ(received.size(), 2u);
  for (size_t i = 0; i < received.size(); ++i) {
    const ReceivedRequest& r = received[i];
    EXPECT_EQ(r.method, "PUT");
    EXPECT_EQ(r.raw_path, "/api/projects/test%20project/tables/t1");
    EXPECT_EQ(r.body, body);
    EXPECT_EQ(FindHeader(r.headers, "x-odps-attempt"), std::to_string(i + 1));
    EXPECT_EQ(FindHeader(r.headers, "authorization-sts-token"), "token-1");
    const auto authorization = FindHeader(r.headers, "Authorization");
    ASSERT_TRUE(authorization.has_value());
    ASSERT_OK_AND_ASSIGN(const ParsedAuthorization auth, ParseAuthorization(*authorization));
    const std::string canonical =
        BuildCanonicalString(r.method, StripPathPrefix(r.path, "/api"), r.query, r.headers);
    EXPECT_TRUE(
        SignaturesEqual(ComputeSignature(canonical, "test-sk", auth.v4_scope), auth.signature))
        << canonical;
  }
}

// cpprest must not add or alter signed headers (Content-Type, Content-MD5, Date, x-odps-*) on
// requests without a body, or a strict server would reject them.
TEST(HttpClient, BodilessRequestsOfEveryMethodVerifyOnTheServer) {
  ASSERT_OK_AND_ASSIGN(auto server, TestHttpServer::Start([](const ReceivedRequest&, int) {
                         return Reply{200, ""};
                       }));
  const Credentials credentials{"test-ak", "test-sk", "", std::nullopt};
  ASSERT_OK_AND_ASSIGN(auto client,
                       HttpClient::Create(FastOptions(server->url(), 1), [&](HttpRequest* r) {
                         SignRequest(r->method, r->path, r->query, &r->headers, credentials,
                                     absl::Now(), "cn-hangzhou");
                         return absl::OkStatus();
                       }));
  for (const char* method : {"GET", "POST", "PUT", "DELETE", "HEAD"}) {
    HttpRequest request = Get("/projects/p/tables/t");
    request.method = method;
    request.query = {{"uploads", ""}, {"partition", "pt=a b+c"}};
    ASSERT_OK_AND_ASSIGN(const HttpResponse response, client->Send(request));
    EXPECT_EQ(response.status, 200) << method;
  }
  for (const ReceivedRequest& r : server->requests()) {
    ASSERT_OK_AND_ASSIGN(const ParsedAuthorization auth,
                         ParseAuthorization(*FindHeader(r.headers, "Authorization")));
    const std::string canonical = BuildCanonicalString(r.method, r.path, r.query, r.headers);
    EXPECT_TRUE(
        SignaturesEqual(ComputeSignature(canonical, "test-sk", auth.v4_scope), auth.signature))
        << r.method << ": " << canonical;
    EXPECT_EQ(Param(r.query, "partition"), "pt=a b+c");
  }
  EXPECT_EQ(server->request_count(), 5);
}

TEST(HttpClient, SigningFailureStopsTheRequest) {
  ASSERT_OK_AND_ASSIGN(auto server,
                       TestHttpServer::Start([](const ReceivedRequest&, int) { return Reply{}; }));
  ASSERT_OK_AND_ASSIGN(auto client,
                       HttpClient::Create(FastOptions(server->url(), 3), [](HttpRequest*) {
                         return absl::FailedPreconditionError("no credentials");
                       }));
  const auto response = client->Send(Get("/x"));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(server->request_count(), 0);
}

TEST(HttpClient, RejectsUnusableBaseUrls) {
  for (const char* url : {"ftp://host/", "not a url", "http://host/api?x=1", "http:///path"}) {
    EXPECT_FALSE(HttpClient::Create(FastOptions(url, 1)).ok()) << url;
  }
}

TEST(RetryPolicy, RetryableStatusesAre429And5xxExcept501) {
  for (int s : {429, 500, 502, 503, 504, 599}) EXPECT_TRUE(IsRetryableHttpStatus(s)) << s;
  for (int s : {200, 201, 301, 400, 401, 403, 404, 409, 501}) {
    EXPECT_FALSE(IsRetryableHttpStatus(s)) << s;
  }
}

TEST(RetryPolicy, BackoffIsFullJitterUnderAnExponentialCap) {
  RetryPolicy policy;
  policy.initial_backoff = absl::Milliseconds(100);
  policy.multiplier = 2;
  policy.max_backoff = absl::Seconds(1);
  EXPECT_EQ(ComputeBackoff(policy, 1, 0.999999), absl::Microseconds(99999.9));
  EXPECT_EQ(ComputeBackoff(policy, 3, 0.5), absl::Milliseconds(200));
  EXPECT_EQ(ComputeBackoff(policy, 4, 1.0), absl::Milliseconds(800));
  EXPECT_EQ(ComputeBackoff(policy, 10, 1.0), absl::Seconds(1));
  EXPECT_EQ(ComputeBackoff(policy, 2000, 0.5), absl::Milliseconds(500));
  EXPECT_EQ(ComputeBackoff(policy, 5, 0.0), absl::ZeroDuration());
}

}  // namespace
}  // namespace mcsink::maxcompute_client
