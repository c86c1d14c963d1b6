#include "mcsink/maxcompute_client/http.h"

// cpprest's U() macro clashes with other code; utility::string_t is std::string on Linux.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/http_client.h>
#include <cpprest/rawptrstream.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <mutex>
#include <random>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "mcsink/common/log.h"
#include "mcsink/common/status.h"

namespace mcsink::maxcompute_client {
namespace {

// Retry-After in delta-seconds; the HTTP-date form is not used by MaxCompute and is ignored.
std::optional<absl::Duration> ParseRetryAfter(const HttpResponse& response) {
  const auto value = response.Header("Retry-After");
  if (!value || value->empty()) return std::nullopt;
  int64_t seconds = 0;
  const auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), seconds);
  if (ec != std::errc() || end != value->data() + value->size() || seconds < 0) return std::nullopt;
  return absl::Seconds(seconds);
}

bool IsRetryableTransportError(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kDeadlineExceeded;
}

}  // namespace

bool IsRetryableHttpStatus(int status) {
  return status == 429 || (status >= 500 && status <= 599 && status != 501);
}

absl::Duration ComputeBackoff(const RetryPolicy& policy, int retry, double uniform01) {
  const double exponent = std::max(0, retry - 1);
  // Computed in double seconds so a large exponent saturates instead of overflowing.
  const double cap_seconds = std::min(
      absl::ToDoubleSeconds(policy.max_backoff),
      absl::ToDoubleSeconds(policy.initial_backoff) * std::pow(policy.multiplier, exponent));
  return absl::Seconds(std::clamp(uniform01, 0.0, 1.0) * std::max(0.0, cap_seconds));
}

struct HttpClient::Impl {
  std::unique_ptr<web::http::client::http_client> client;
  std::string scheme_host;  // for messages: `http://host:port`
  std::string path_prefix;  // encoded mount prefix without trailing '/', e.g. `/api`
  std::mutex rng_mu;
  std::mt19937_64 rng{std::random_device{}()};

  double Uniform01() {
    std::lock_guard<std::mutex> lock(rng_mu);
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  }
};

absl::StatusOr<std::unique_ptr<HttpClient>> HttpClient::Create(HttpClientOptions options,
                                                               RequestSigningHook signer) {
  auto impl = std::make_unique<Impl>();
  try {
    const web::uri uri(options.base_url);
    if ((uri.scheme() != "http" && uri.scheme() != "https") || uri.host().empty() ||
        !uri.query().empty() || !uri.fragment().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("base URL '", options.base_url,
                       "' must be http(s)://host[:port][/prefix] without query or fragment"));
    }
    impl->path_prefix = uri.path();
    while (!impl->path_prefix.empty() && impl->path_prefix.back() == '/') {
      impl->path_prefix.pop_back();
    }
    web::uri_builder base;
    base.set_scheme(uri.scheme()).set_host(uri.host());
    if (uri.port() > 0) base.set_port(uri.port());
    impl->scheme_host = base.to_string();
    while (!impl->scheme_host.empty() && impl->scheme_host.back() == '/') {
      impl->scheme_host.pop_back();
    }
    web::http::client::http_client_config config;
    config.set_timeout(std::chrono::microseconds(absl::ToInt64Microseconds(options.timeout)));
    config.set_validate_certificates(options.validate_certificates);
    impl->client = std::make_unique<web::http::client::http_client>(base.to_uri(), config);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("base URL '", options.base_url, "' is not usable: ", e.what()));
  }
  if (options.retry.max_attempts < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("retry.max_attempts is ", options.retry.max_attempts, "; it must be >= 1"));
  }
  return std::unique_ptr<HttpClient>(
      new HttpClient(std::move(options), std::move(signer), std::move(impl)));
}

HttpClient::HttpClient(HttpClientOptions options, RequestSigningHook signer,
                       std::unique_ptr<Impl> impl)
    : options_(std::move(options)), signer_(std::move(signer)), impl_(std::move(impl)) {}

HttpClient::~HttpClient() = default;

absl::StatusOr<HttpResponse> HttpClient::SendOnce(const HttpRequest& attempt) {
  const std::string encoded_path = PercentEncodePath(attempt.path.empty() ? "/" : attempt.path);
  std::string relative = absl::StrCat(impl_->path_prefix, encoded_path);
  if (!attempt.query.empty()) absl::StrAppend(&relative, "?", BuildQueryString(attempt.query));
  // Messages name method and path only: queries of signed STS calls carry the signature.
  const auto where = [&] {
    return absl::StrCat("HTTP ", attempt.method, " ", impl_->scheme_host, impl_->path_prefix,
                        encoded_path);
  };
  try {
    web::http::http_request req(attempt.method);
    req.set_request_uri(web::uri(relative));
    std::string content_type;
    for (const auto& [name, value] : attempt.headers) {
      if (absl::EqualsIgnoreCase(name, "Content-Type")) content_type = value;
      req.headers().add(name, value);
    }
    if (!attempt.body || attempt.body->empty()) {
      // An explicit zero length for bodiless writes (session create and commit send
      // `Content-Length: 0`, §3.2); Content-Length is not signed.
      if (attempt.method != "GET" && attempt.method != "HEAD") req.headers().set_content_length(0);
    } else {
      std::shared_ptr<const std::string> body = attempt.body;
      concurrency::streams::rawptr_buffer<uint8_t> buffer(
          reinterpret_cast<const uint8_t*>(body->data()), body->size());
      req.set_body(buffer.create_istream(), body->size(), content_type);
      // cpprest may still touch the stream after a timed-out attempt returns; the handler lives
      // in the request object, so capturing the body keeps the bytes alive as long as cpprest
      // holds the request.
      req.set_progress_handler(
          [body](web::http::message_direction::direction, utility::size64_t) {});
    }
    web::http::http_response response = impl_->client->request(req).get();
    HttpResponse out;
    out.status = response.status_code();
    for (const auto& [name, value] : response.headers()) out.headers.emplace_back(name, value);
    const utility::size64_t declared = response.headers().content_length();
    if (declared > options_.max_response_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          where(), ": response body of ", declared, " bytes exceeds the limit of ",
          options_.max_response_bytes, " bytes (HttpClientOptions.max_response_bytes)"));
    }
    // extract_vector reads through a byte-typed buffer; reading into a std::string buffer would
    // go through cpprest's char/unsigned char stream reinterpretation, which UBSan flags.
    const std::vector<unsigned char> body = response.extract_vector().get();
    out.body.assign(body.begin(), body.end());
    return out;
  } catch (const web::http::http_exception& e) {
    if (e.error_code() == std::errc::timed_out) {
      return absl::DeadlineExceededError(absl::StrCat(where(), ": no progress within ",
                                                      absl::FormatDuration(options_.timeout), ": ",
                                                      e.what()));
    }
    return absl::UnavailableError(absl::StrCat(where(), ": ", e.what()));
  } catch (const web::uri_exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(where(), ": invalid request URI: ", e.what()));
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(where(), ": ", e.what()));
  }
}

absl::StatusOr<HttpResponse> HttpClient::Send(const HttpRequest& request) {
  const RetryPolicy& policy = options_.retry;
  for (int attempt_number = 1;; ++attempt_number) {
    HttpRequest attempt = request;  // headers and query are small; the body is shared
    if (signer_) {
      const absl::Status signed_ok = signer_(&attempt);
      if (!signed_ok.ok()) {
        return Annotate(signed_ok,
                        absl::StrCat("signing HTTP ", request.method, " ", request.path));
      }
    }
    absl::StatusOr<HttpResponse> result = SendOnce(attempt);
    std::optional<absl::Duration> retry_after;
    bool retryable;
    if (result.ok()) {
      retryable = IsRetryableHttpStatus(result->status);
      if (retryable) retry_after = ParseRetryAfter(*result);
    } else {
      retryable = IsRetryableTransportError(result.status());
    }
    if (!retryable || attempt_number >= policy.max_attempts) {
      if (!result.ok() && retryable) {
        return Annotate(result.status(),
                        absl::StrCat("giving up after ", attempt_number, " attempt(s)"));
      }
      return result;
    }
    absl::Duration backoff = ComputeBackoff(policy, attempt_number, impl_->Uniform01());
    if (retry_after) backoff = std::max(backoff, std::min(*retry_after, policy.max_backoff));
    MCSINK_LOG(WARNING) << "HTTP " << request.method << " " << impl_->scheme_host
                        << impl_->path_prefix << request.path << " attempt " << attempt_number
                        << "/" << policy.max_attempts << " failed ("
                        << (result.ok() ? absl::StrCat("status ", result->status)
                                        : std::string(result.status().message()))
                        << "); retrying in " << absl::FormatDuration(backoff);
    absl::SleepFor(backoff);
  }
}

}  // namespace mcsink::maxcompute_client
