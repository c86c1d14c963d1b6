// MaxCompute (ODPS) request signing, signature V2 and V4 (protocol §1). The same functions build
// the canonical string on the client and in mclocal's strict-mode verifier, so both sides agree
// byte for byte:
//
//   client:  SignRequest(method, resource, query, &headers, credentials, now, region)
//   server:  auth = ParseAuthorization(headers["Authorization"]);
//            canonical = BuildCanonicalString(method, StripPathPrefix(path, "/api"), query,
//            headers); ok = SignaturesEqual(ComputeSignature(canonical,
//            secret_of(auth.access_key_id),
//                                                  auth.v4_scope), auth.signature);
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mcsink/maxcompute_client/credentials.h"
#include "mcsink/maxcompute_client/url.h"

namespace mcsink::maxcompute_client {

// HTTP headers as (name, value) pairs; names compare case-insensitively.
using Header = std::pair<std::string, std::string>;
using Headers = std::vector<Header>;

inline constexpr char kAuthorizationHeader[] = "Authorization";
inline constexpr char kDateHeader[] = "Date";
// Carries the STS SecurityToken; not part of the canonical string (protocol §1.4).
inline constexpr char kStsTokenHeader[] = "authorization-sts-token";

// The value of header `name` (case-insensitive; the first match), or nullopt.
std::optional<std::string_view> FindHeader(const Headers& headers, std::string_view name);
// Replaces every header called `name` (case-insensitive) by one `name: value`.
void SetHeader(Headers* headers, std::string_view name, std::string value);
// Removes every header called `name` (case-insensitive).
void RemoveHeader(Headers* headers, std::string_view name);

// The string to sign (protocol §1.1):
//   METHOD \n content-md5 \n content-type \n [date \n] x-odps-name:value \n ... resource[?query]
// `resource` is the decoded path relative to the endpoint (no `/api` mount prefix, §1.2);
// `query` holds the decoded parameters exactly as sent (all of them are signed, sorted by name,
// `name` alone when the value is empty; parameters named `x-odps-*` are also signed as headers).
// Header names are matched case-insensitively; `content-md5` and `content-type` are signed as
// empty lines when absent, `date` only when present. A header given twice is signed with its
// last value, and a query parameter `x-odps-*` overrides a header of the same name, as pyodps does.
std::string BuildCanonicalString(std::string_view method, std::string_view resource,
                                 const QueryParams& query, const Headers& headers);

// The credential scope of a V4 signature.
struct V4Scope {
  std::string date;    // yyyyMMdd, UTC
  std::string region;  // e.g. cn-hangzhou
  bool operator==(const V4Scope&) const = default;
};

// base64(HMAC-SHA1(secret, canonical)).
std::string ComputeSignatureV2(std::string_view canonical, std::string_view secret);
// base64(HMAC-SHA1(kSign, canonical)) with kSign derived from the secret, date and region through
// the HMAC-SHA256 chain of §1.3.
std::string ComputeSignatureV4(std::string_view canonical, std::string_view secret,
                               const V4Scope& scope);
// V4 when `scope` is set, V2 otherwise.
std::string ComputeSignature(std::string_view canonical, std::string_view secret,
                             const std::optional<V4Scope>& scope);

// `ODPS <id>:<sig>` (V2) or `ODPS <id>/<date>/<region>/odps/aliyun_v4_request:<sig>` (V4).
std::string FormatAuthorization(std::string_view access_key_id, const std::optional<V4Scope>& scope,
                                std::string_view signature);

// An `Authorization: ODPS ...` value taken apart.
struct ParsedAuthorization {
  std::string access_key_id;
  std::optional<V4Scope> v4_scope;  // set for V4
  std::string signature;            // base64, as sent
};
// Fails with InvalidArgument (message without the signature) when the value is not one of the
// two forms above.
absl::StatusOr<ParsedAuthorization> ParseAuthorization(std::string_view header_value);

// Constant-time comparison, for verifiers.
bool SignaturesEqual(std::string_view a, std::string_view b);

// RFC 822 date in GMT as the SDKs send it: `Thu, 01 Jan 2026 00:00:00 GMT`.
std::string FormatHttpDate(absl::Time time);
absl::StatusOr<absl::Time> ParseHttpDate(std::string_view text);
// yyyyMMdd in UTC, the V4 credential date.
std::string FormatScopeDate(absl::Time time);

// Client side: signs a request in place. Sets `Date` to `now` unless the caller already set one,
// replaces `Authorization` (V4 when `region` is set and non-empty, V2 otherwise) and sets or
// removes `authorization-sts-token` according to `credentials.security_token`. Call it again on
// every retry so the date stays fresh.
void SignRequest(std::string_view method, std::string_view resource, const QueryParams& query,
                 Headers* headers, const Credentials& credentials, absl::Time now,
                 const std::optional<std::string>& region);

}  // namespace mcsink::maxcompute_client
