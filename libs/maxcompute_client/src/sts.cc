#include "mcsink/maxcompute_client/sts.h"

// cpprest's U() macro clashes with other code; utility::string_t is std::string on Linux.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mcsink/common/log.h"
#include "mcsink/common/status.h"

namespace mcsink::maxcompute_client {
namespace {

constexpr char kIso8601Utc[] = "%Y-%m-%dT%H:%M:%SZ";
constexpr absl::Duration kMinDuration = absl::Seconds(900);
constexpr absl::Duration kMaxDuration = absl::Seconds(43200);
constexpr absl::Duration kRetryFailedRefreshAfter = absl::Seconds(10);

// Names carried per attempt; removed before re-signing.
constexpr std::string_view kPerAttemptParams[] = {"AccessKeyId", "SecurityToken", "SignatureNonce",
                                                  "Timestamp", "Signature"};

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '@' || c == '_' ||
         c == '-';
}

bool IsValidName(std::string_view name, size_t min_len, size_t max_len) {
  return name.size() >= min_len && name.size() <= max_len &&
         std::all_of(name.begin(), name.end(), IsNameChar);
}

std::string RandomNonce() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    // Only uniqueness matters for a nonce; fall back to time-derived bytes if the CSPRNG fails.
    const int64_t now = absl::ToUnixNanos(absl::Now());
    for (size_t i = 0; i < sizeof(bytes); ++i)
      bytes[i] = static_cast<unsigned char>(now >> (i % 8 * 8)) ^ static_cast<unsigned char>(i);
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

// A JSON string member, or nullopt when absent or not a string.
std::optional<std::string> StringField(const web::json::value& object, const char* name) {
  if (!object.is_object() || !object.has_field(name)) return std::nullopt;
  const web::json::value& v = object.at(name);
  if (!v.is_string()) return std::nullopt;
  return v.as_string();
}

}  // namespace

std::string PopCanonicalQuery(const QueryParams& params) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(params.size());
  for (const auto& [name, value] : params) {
    encoded.emplace_back(PercentEncode(name), PercentEncode(value));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    absl::StrAppend(&out, name, "=", value);
  }
  return out;
}

std::string PopStringToSign(std::string_view method, const QueryParams& params) {
  return absl::StrCat(absl::string_view(method.data(), method.size()), "&", PercentEncode("/"), "&",
                      PercentEncode(PopCanonicalQuery(params)));
}

std::string PopSignature(std::string_view method, const QueryParams& params,
                         std::string_view access_key_secret) {
  const std::string key =
      absl::StrCat(absl::string_view(access_key_secret.data(), access_key_secret.size()), "&");
  const std::string message = PopStringToSign(method, params);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &out_len);
  return absl::Base64Escape(absl::string_view(reinterpret_cast<const char*>(out), out_len));
}

absl::StatusOr<std::string> MakeRoleArn(std::string_view account_id, std::string_view role_name) {
  std::string arn =
      absl::StrCat("acs:ram::", absl::string_view(account_id.data(), account_id.size()), ":role/",
                   absl::string_view(role_name.data(), role_name.size()));
  MCSINK_RETURN_IF_ERROR(ValidateRoleArn(arn));
  return arn;
}

absl::Status ValidateRoleArn(std::string_view role_arn) {
  constexpr std::string_view kPrefix = "acs:ram::";
  constexpr std::string_view kRole = ":role/";
  const auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("role ARN '", absl::string_view(role_arn.data(), role_arn.size()),
                     "' is not of the form acs:ram::<account id (digits)>:role/<role name>"));
  };
  if (role_arn.substr(0, kPrefix.size()) != kPrefix) return bad();
  const std::string_view rest = role_arn.substr(kPrefix.size());
  const size_t role_at = rest.find(kRole);
  if (role_at == std::string_view::npos || role_at == 0) return bad();
  const std::string_view account = rest.substr(0, role_at);
  const std::string_view role = rest.substr(role_at + kRole.size());
  if (!std::all_of(account.begin(), account.end(),
                   [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); }) ||
      !IsValidName(role, 1, 64)) {
    return bad();
  }
  return absl::OkStatus();
}

absl::Status ValidateAssumeRoleOptions(const AssumeRoleOptions& options) {
  std::vector<std::string> problems;
  if (const absl::Status arn = ValidateRoleArn(options.role_arn); !arn.ok()) {
    problems.emplace_back(arn.message());
  }
  if (!IsValidName(options.role_session_name, 2, 64)) {
    problems.push_back(absl::StrCat("role_session_name '", options.role_session_name,
                                    "' must be 2-64 characters of [A-Za-z0-9.@_-]"));
  }
  if (options.duration < kMinDuration || options.duration > kMaxDuration ||
      options.duration != absl::Seconds(absl::ToInt64Seconds(options.duration))) {
    problems.push_back(absl::StrCat("duration ", absl::FormatDuration(options.duration),
                                    " must be whole seconds between 900 s and 43200 s"));
  }
  if (options.sts_endpoint.empty()) problems.push_back("sts_endpoint is empty");
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("invalid AssumeRole options: ", absl::StrJoin(problems, "; ")));
}

QueryParams BuildAssumeRoleQuery(const AssumeRoleOptions& options) {
  return {{"Action", "AssumeRole"},
          {"Version", "2015-04-01"},
          {"Format", "JSON"},
          {"SignatureMethod", "HMAC-SHA1"},
          {"SignatureVersion", "1.0"},
          {"RoleArn", options.role_arn},
          {"RoleSessionName", options.role_session_name},
          {"DurationSeconds", absl::StrCat(absl::ToInt64Seconds(options.duration))}};
}

void SignPopRequest(HttpRequest* request, const Credentials& source, absl::Time now,
                    std::string nonce) {
  QueryParams& query = request->query;
  std::erase_if(query, [](const QueryParam& p) {
    return std::find(std::begin(kPerAttemptParams), std::end(kPerAttemptParams), p.first) !=
           std::end(kPerAttemptParams);
  });
  query.emplace_back("AccessKeyId", source.access_key_id);
  if (!source.security_token.empty()) query.emplace_back("SecurityToken", source.security_token);
  query.emplace_back("SignatureNonce", std::move(nonce));
  query.emplace_back("Timestamp", absl::FormatTime(kIso8601Utc, now, absl::UTCTimeZone()));
  query.emplace_back("Signature", PopSignature(request->method, query, source.access_key_secret));
}

absl::StatusOr<Credentials> ParseAssumeRoleResponse(std::string_view json) {
  web::json::value root;
  try {
    root = web::json::value::parse(std::string(json));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("STS AssumeRole response is not JSON (", e.what(), ")"));
  }
  if (!root.is_object() || !root.has_field("Credentials") || !root.at("Credentials").is_object()) {
    return absl::InvalidArgumentError("STS AssumeRole response has no 'Credentials' object");
  }
  const web::json::value& c = root.at("Credentials");
  Credentials credentials;
  std::vector<std::string> missing;
  const auto take = [&](const char* name, std::string* out) {
    auto value = StringField(c, name);
    if (!value || value->empty()) {
      missing.emplace_back(name);
    } else {
      *out = *std::move(value);
    }
  };
  std::string expiration;
  take("AccessKeyId", &credentials.access_key_id);
  take("AccessKeySecret", &credentials.access_key_secret);
  take("SecurityToken", &credentials.security_token);
  take("Expiration", &expiration);
  if (!missing.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("STS AssumeRole response lacks Credentials.",
                                                   absl::StrJoin(missing, ", Credentials.")));
  }
  absl::Time expires;
  std::string error;
  if (!absl::ParseTime(kIso8601Utc, expiration, absl::UTCTimeZone(), &expires, &error)) {
    return absl::InvalidArgumentError(absl::StrCat("STS AssumeRole Credentials.Expiration '",
                                                   expiration,
                                                   "' is not yyyy-MM-ddTHH:mm:ssZ: ", error));
  }
  credentials.expiration = expires;
  return credentials;
}

absl::Status StsErrorToStatus(const HttpResponse& response, std::string_view role_arn) {
  std::string code = "unknown";
  std::string message;
  std::string request_id;
  try {
    const web::json::value root = web::json::value::parse(response.body);
    code = StringField(root, "Code").value_or(code);
    message = StringField(root, "Message").value_or("");
    request_id = StringField(root, "RequestId").value_or("");
  } catch (const std::exception&) {
    // Not JSON (a proxy's page, say): report the status alone; the body may be large.
  }
  const std::string text =
      absl::StrCat("STS AssumeRole of ", absl::string_view(role_arn.data(), role_arn.size()),
                   " failed with HTTP ", response.status, ", code ", code,
                   message.empty() ? "" : absl::StrCat(": ", message),
                   request_id.empty() ? "" : absl::StrCat(" (request id ", request_id, ")"));
  if (response.status == 401 || response.status == 403) return absl::PermissionDeniedError(text);
  if (response.status == 400 || response.status == 404) return absl::InvalidArgumentError(text);
  return absl::UnavailableError(text);
}

absl::Time StsRefreshTime(absl::Time obtained, absl::Time expiration) {
  const absl::Duration lifetime = expiration - obtained;
  const absl::Time at_80_percent = obtained + lifetime * 0.8;
  const absl::Time refresh = std::min(at_80_percent, expiration - absl::Minutes(5));
  // Lifetimes under 5 minutes (clock skew, a short-lived role) would otherwise refresh at once and
  // call STS on every request.
  return refresh > obtained ? refresh : at_80_percent;
}

absl::StatusOr<std::unique_ptr<RamRoleArnCredentialsProvider>>
RamRoleArnCredentialsProvider::Create(AssumeRoleOptions options,
                                      std::shared_ptr<CredentialsProvider> source, Clock clock) {
  MCSINK_RETURN_IF_ERROR(ValidateAssumeRoleOptions(options));
  if (!source) return absl::InvalidArgumentError("AssumeRole needs a source credentials provider");
  if (!clock) clock = absl::Now;
  HttpClientOptions http;
  http.base_url = options.sts_endpoint;
  http.timeout = options.timeout;
  http.retry = options.retry;
  // Each attempt gets fresh source credentials, nonce and timestamp: STS rejects a reused nonce.
  auto signer = [source, clock](HttpRequest* attempt) -> absl::Status {
    MCSINK_ASSIGN_OR_RETURN(const Credentials credentials, source->Get());
    SignPopRequest(attempt, credentials, clock(), RandomNonce());
    return absl::OkStatus();
  };
  MCSINK_ASSIGN_OR_RETURN(auto client, HttpClient::Create(std::move(http), std::move(signer)));
  std::unique_ptr<RamRoleArnCredentialsProvider> provider(
      new RamRoleArnCredentialsProvider(std::move(options), std::move(clock)));
  provider->sts_ = std::move(client);
  return provider;
}

RamRoleArnCredentialsProvider::RamRoleArnCredentialsProvider(AssumeRoleOptions options, Clock clock)
    : options_(std::move(options)), clock_(std::move(clock)) {}

absl::StatusOr<Credentials> RamRoleArnCredentialsProvider::AssumeRole() {
  HttpRequest request;
  request.method = "GET";
  request.path = "/";
  request.query = BuildAssumeRoleQuery(options_);
  auto sent = sts_->Send(request);
  if (!sent.ok()) return Annotate(sent.status(), absl::StrCat("assuming role ", options_.role_arn));
  const HttpResponse& response = *sent;
  if (response.status != 200) return StsErrorToStatus(response, options_.role_arn);
  auto credentials = ParseAssumeRoleResponse(response.body);
  if (!credentials.ok()) {
    return Annotate(credentials.status(), absl::StrCat("assuming role ", options_.role_arn));
  }
  return credentials;
}

absl::StatusOr<Credentials> RamRoleArnCredentialsProvider::Get() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    const absl::Time now = clock_();
    if (cached_ && now < refresh_at_) return *cached_;
    if (!refreshing_) break;
    // Another caller is refreshing: keep using what is still valid, else wait for it.
    if (cached_ && now < *cached_->expiration) return *cached_;
    refreshed_.wait(lock);
  }
  refreshing_ = true;
  lock.unlock();
  const absl::Time started = clock_();
  absl::StatusOr<Credentials> fresh = AssumeRole();
  lock.lock();
  refreshing_ = false;
  refreshed_.notify_all();
  if (fresh.ok()) {
    // Lifetime is measured from the request, so a slow STS round trip only makes refresh earlier.
    refresh_at_ = StsRefreshTime(started, *fresh->expiration);
    cached_ = *fresh;
    MCSINK_LOG(INFO) << "assumed RAM role " << options_.role_arn << ": " << *cached_
                     << ", refresh at " << absl::FormatTime(refresh_at_);
    return fresh;
  }
  const absl::Time now = clock_();
  if (cached_ && now < *cached_->expiration) {
    refresh_at_ = std::min(now + kRetryFailedRefreshAfter, *cached_->expiration);
    MCSINK_LOG(WARNING) << "refreshing RAM role " << options_.role_arn
                        << " credentials failed, using the cached ones until "
                        << absl::FormatTime(*cached_->expiration) << ": " << fresh.status();
    return *cached_;
  }
  return fresh.status();
}

}  // namespace mcsink::maxcompute_client
