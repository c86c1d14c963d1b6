// Temporary credentials from a RAM role: Alibaba Cloud STS AssumeRole, called with the RAM user's
// long-lived AccessKey and signed with Alibaba Cloud's RPC-style (POP) signature V1.0:
//
//   StringToSign = METHOD & %2F & PercentEncode(sorted `PercentEncode(k)=PercentEncode(v)` joined
//   by &) Signature    = base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign))
//
// with PercentEncode = RFC 3986 (unreserved kept, space %20, `*` %2A, `~` kept).
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mcsink/maxcompute_client/credentials.h"
#include "mcsink/maxcompute_client/http.h"
#include "mcsink/maxcompute_client/url.h"

namespace mcsink::maxcompute_client {

// The canonicalised query: parameters sorted by name, each
// `PercentEncode(name)=PercentEncode(value)`, joined with `&`. `Signature` must not be among them.
std::string PopCanonicalQuery(const QueryParams& params);
// `METHOD&%2F&PercentEncode(PopCanonicalQuery(params))`.
std::string PopStringToSign(std::string_view method, const QueryParams& params);
// base64(HMAC-SHA1(secret + "&", PopStringToSign(method, params))).
std::string PopSignature(std::string_view method, const QueryParams& params,
                         std::string_view access_key_secret);

// `acs:ram::<account id>:role/<role name>`; InvalidArgument unless the account id is digits and
// the role name is 1-64 of [A-Za-z0-9.@_-].
absl::StatusOr<std::string> MakeRoleArn(std::string_view account_id, std::string_view role_name);
absl::Status ValidateRoleArn(std::string_view role_arn);

struct AssumeRoleOptions {
  std::string role_arn;                      // acs:ram::<account id>:role/<role name>
  std::string role_session_name = "mcsink";  // 2-64 of [A-Za-z0-9.@_-]; shows up in ActionTrail
  absl::Duration duration = absl::Hours(1);  // STS accepts 15 min .. the role's max (<= 12 h)
  std::string sts_endpoint = "https://sts.aliyuncs.com";
  // Transport for the STS calls; retries here get a fresh nonce and timestamp each attempt.
  absl::Duration timeout = absl::Seconds(10);
  RetryPolicy retry;
};

// Validates every field and reports all problems at once.
absl::Status ValidateAssumeRoleOptions(const AssumeRoleOptions& options);

// The AssumeRole query without the per-attempt parts (AccessKeyId, SecurityToken, SignatureNonce,
// Timestamp, Signature).
QueryParams BuildAssumeRoleQuery(const AssumeRoleOptions& options);

// Adds AccessKeyId, SecurityToken (when `source` is itself STS), SignatureNonce, Timestamp and
// Signature to `request->query`, replacing any from an earlier attempt.
void SignPopRequest(HttpRequest* request, const Credentials& source, absl::Time now,
                    std::string nonce);

// Parses a successful AssumeRole JSON body:
// {"Credentials":{"AccessKeyId","AccessKeySecret","SecurityToken","Expiration":"...Z"},...}.
absl::StatusOr<Credentials> ParseAssumeRoleResponse(std::string_view json);
// Maps a failed STS response (JSON {"Code","Message","RequestId"}) to a status that names the
// role, the STS code, message and request id.
absl::Status StsErrorToStatus(const HttpResponse& response, std::string_view role_arn);

// When cached credentials obtained at `obtained` and expiring at `expiration` are renewed:
// at 80% of their lifetime or 5 minutes before expiry, whichever comes first (80% alone when the
// lifetime is under 5 minutes).
absl::Time StsRefreshTime(absl::Time obtained, absl::Time expiration);

// Assumes a RAM role and keeps the temporary credentials fresh. Get() is thread-safe: one caller
// refreshes while the others keep using the still-valid cached credentials (or wait for the
// refresh when none are valid). If a refresh fails while the cached credentials are still valid
// they are used and the refresh is retried after 10 s.
class RamRoleArnCredentialsProvider final : public CredentialsProvider {
 public:
  using Clock = std::function<absl::Time()>;

  // `source` provides the RAM user's AccessKey that is allowed to assume the role.
  static absl::StatusOr<std::unique_ptr<RamRoleArnCredentialsProvider>> Create(
      AssumeRoleOptions options, std::shared_ptr<CredentialsProvider> source,
      Clock clock = absl::Now);

  absl::StatusOr<Credentials> Get() override;

 private:
  RamRoleArnCredentialsProvider(AssumeRoleOptions options, Clock clock);
  absl::StatusOr<Credentials> AssumeRole();

  const AssumeRoleOptions options_;
  const Clock clock_;
  std::unique_ptr<HttpClient> sts_;

  std::mutex mu_;
  std::condition_variable refreshed_;
  bool refreshing_ = false;
  std::optional<Credentials> cached_;
  absl::Time refresh_at_ = absl::InfinitePast();
};

}  // namespace mcsink::maxcompute_client
