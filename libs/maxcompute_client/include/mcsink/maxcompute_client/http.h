// A small HTTP client over cpprestsdk: plain request/response structs, connection reuse (one
// HttpClient per base URL; cpprest pools its connections), per-operation timeouts, and retries
// with exponential backoff and full jitter for retryable failures only. The request is re-signed
// before every attempt through a hook, so Date and nonces are fresh on each try.
//
// Callers never see a cpprest type or exception.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mcsink/maxcompute_client/signing.h"
#include "mcsink/maxcompute_client/url.h"

namespace mcsink::maxcompute_client {

struct HttpRequest {
  std::string method = "GET";
  // Decoded path relative to the base URL, e.g. `/projects/p/tables/t`; for MaxCompute this is
  // also the signed resource (protocol §1.2). The client percent-encodes it.
  std::string path;
  QueryParams query;  // decoded; the client percent-encodes them
  Headers headers;
  // Shared so that retries and cpprest's asynchronous writer use the bytes without copying them,
  // and they outlive an attempt that timed out. Null means no body.
  std::shared_ptr<const std::string> body;

  void SetBody(std::string bytes) { body = std::make_shared<const std::string>(std::move(bytes)); }
};

struct HttpResponse {
  int status = 0;
  Headers headers;
  std::string body;

  // The value of response header `name` (case-insensitive), or nullopt.
  std::optional<std::string_view> Header(std::string_view name) const {
    return FindHeader(headers, name);
  }
};

// Which failures are retried and how long to wait between attempts. Backoff before retry n
// (n = 1, 2, ...) is uniform in [0, min(max_backoff, initial_backoff * multiplier^(n-1))]
// ("full jitter"), raised to a server's Retry-After (capped at max_backoff) when one is sent.
struct RetryPolicy {
  int max_attempts = 5;  // 1 disables retries
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(10);
  double multiplier = 2.0;
};

// 429 and 5xx except 501 (Not Implemented never heals). Never any other 4xx.
bool IsRetryableHttpStatus(int status);

// The backoff before retry `retry` (1-based) for a uniform draw `uniform01` in [0, 1).
absl::Duration ComputeBackoff(const RetryPolicy& policy, int retry, double uniform01);

// Anything that sends an HttpRequest; HttpClient is the real one, tests and the STS provider can
// use another.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Returns the final response whatever its status (after retries for retryable ones), or an
  // error when no response came: Unavailable (connection failure), DeadlineExceeded (timeout),
  // or the signing hook's error.
  virtual absl::StatusOr<HttpResponse> Send(const HttpRequest& request) = 0;
};

struct HttpClientOptions {
  // scheme://host[:port][/mount-prefix], e.g.
  // `http://service.cn-hangzhou.maxcompute.aliyun.com/api` or a tunnel endpoint
  // `http://dt.cn-hangzhou.maxcompute.aliyun.com`.
  std::string base_url;
  // Limit on each send and each receive operation (cpprest semantics), not on the whole call.
  absl::Duration timeout = absl::Seconds(60);
  RetryPolicy retry;
  bool validate_certificates = true;
  // A response body larger than this (by Content-Length) fails instead of being buffered.
  size_t max_response_bytes = 256u << 20;
};

// Prepares one attempt (a copy of the caller's request): sign it, add a nonce, etc.
using RequestSigningHook = std::function<absl::Status(HttpRequest* attempt)>;

// The MaxCompute signature (V4 with `region`, else V2) with the provider's current credentials,
// computed afresh for every attempt, so Date is fresh and rotated STS credentials are used.
RequestSigningHook MakeOdpsSigner(std::shared_ptr<CredentialsProvider> credentials,
                                  std::optional<std::string> region);

class HttpClient final : public HttpTransport {
 public:
  // Fails with InvalidArgument when base_url is not an http(s) URL without query or fragment.
  static absl::StatusOr<std::unique_ptr<HttpClient>> Create(HttpClientOptions options,
                                                            RequestSigningHook signer = nullptr);
  ~HttpClient() override;
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override;

  const std::string& base_url() const { return options_.base_url; }

 private:
  struct Impl;
  HttpClient(HttpClientOptions options, RequestSigningHook signer, std::unique_ptr<Impl> impl);

  // One attempt; no retries.
  absl::StatusOr<HttpResponse> SendOnce(const HttpRequest& attempt);

  const HttpClientOptions options_;
  const RequestSigningHook signer_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mcsink::maxcompute_client
