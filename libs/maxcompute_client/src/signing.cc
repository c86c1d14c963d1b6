#include "mcsink/maxcompute_client/signing.h"

#include "mcsink/common/status.h"
#include "mcsink/maxcompute_client/http.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mcsink::maxcompute_client {
namespace {

constexpr std::string_view kOdpsHeaderPrefix = "x-odps-";
constexpr char kHttpDateFormat[] = "%a, %d %b %Y %H:%M:%S GMT";

std::string Hmac(const EVP_MD* md, std::string_view key, std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &out_len);
  return std::string(reinterpret_cast<const char*>(out), out_len);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(absl::string_view(a.data(), a.size()),
                                absl::string_view(b.data(), b.size()));
}

std::string ToLower(std::string_view text) {
  return absl::AsciiStrToLower(absl::string_view(text.data(), text.size()));
}

bool HasOdpsPrefix(std::string_view lower_name) {
  return lower_name.substr(0, kOdpsHeaderPrefix.size()) == kOdpsHeaderPrefix;
}

}  // namespace

std::optional<std::string_view> FindHeader(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

void RemoveHeader(Headers* headers, std::string_view name) {
  std::erase_if(*headers, [name](const Header& h) { return EqualsIgnoreCase(h.first, name); });
}

void SetHeader(Headers* headers, std::string_view name, std::string value) {
  RemoveHeader(headers, name);
  headers->emplace_back(std::string(name), std::move(value));
}

std::string BuildCanonicalString(std::string_view method, std::string_view resource,
                                 const QueryParams& query, const Headers& headers) {
  // Ordered by lower-cased name: content-md5 < content-type < date < x-odps-*.
  std::map<std::string, std::string_view> signed_headers = {{"content-md5", ""},
                                                            {"content-type", ""}};
  for (const auto& [name, value] : headers) {
    std::string lower = ToLower(name);
    if (lower == "content-md5" || lower == "content-type" || lower == "date" ||
        HasOdpsPrefix(lower)) {
      signed_headers[std::move(lower)] = value;
    }
  }
  for (const auto& [name, value] : query) {
    if (HasOdpsPrefix(name)) signed_headers[name] = value;
  }

  std::vector<const QueryParam*> sorted_query;
  sorted_query.reserve(query.size());
  for (const auto& param : query) sorted_query.push_back(&param);
  std::stable_sort(sorted_query.begin(), sorted_query.end(),
                   [](const QueryParam* a, const QueryParam* b) { return a->first < b->first; });

  std::string out = absl::AsciiStrToUpper(absl::string_view(method.data(), method.size()));
  out.push_back('\n');
  for (const auto& [name, value] : signed_headers) {
    if (HasOdpsPrefix(name)) {
      out.append(name).push_back(':');
    }
    out.append(value).push_back('\n');
  }
  out.append(resource);
  char separator = '?';
  for (const QueryParam* param : sorted_query) {
    out.push_back(separator);
    separator = '&';
    out.append(param->first);
    if (!param->second.empty()) out.append("=").append(param->second);
  }
  return out;
}

std::string ComputeSignatureV2(std::string_view canonical, std::string_view secret) {
  return absl::Base64Escape(Hmac(EVP_sha1(), secret, canonical));
}

std::string ComputeSignatureV4(std::string_view canonical, std::string_view secret,
                               const V4Scope& scope) {
  const std::string k_secret =
      absl::StrCat("aliyun_v4", absl::string_view(secret.data(), secret.size()));
  const std::string k_date = Hmac(EVP_sha256(), k_secret, scope.date);
  const std::string k_region = Hmac(EVP_sha256(), k_date, scope.region);
  const std::string k_service = Hmac(EVP_sha256(), k_region, "odps");
  const std::string k_sign = Hmac(EVP_sha256(), k_service, "aliyun_v4_request");
  // The derived key is SHA-256, but the final MAC is SHA-1 in every SDK (protocol §1.3).
  return absl::Base64Escape(Hmac(EVP_sha1(), k_sign, canonical));
}

std::string ComputeSignature(std::string_view canonical, std::string_view secret,
                             const std::optional<V4Scope>& scope) {
  return scope ? ComputeSignatureV4(canonical, secret, *scope)
               : ComputeSignatureV2(canonical, secret);
}

std::string FormatAuthorization(std::string_view access_key_id, const std::optional<V4Scope>& scope,
                                std::string_view signature) {
  const absl::string_view id(access_key_id.data(), access_key_id.size());
  const absl::string_view sig(signature.data(), signature.size());
  if (!scope) return absl::StrCat("ODPS ", id, ":", sig);
  return absl::StrCat("ODPS ", id, "/", scope->date, "/", scope->region,
                      "/odps/aliyun_v4_request:", sig);
}

absl::StatusOr<ParsedAuthorization> ParseAuthorization(std::string_view header_value) {
  constexpr std::string_view kScheme = "ODPS ";
  if (header_value.substr(0, kScheme.size()) != kScheme) {
    return absl::InvalidArgumentError(
        "Authorization header does not start with 'ODPS ': expected 'ODPS "
        "<AccessKeyId>:<signature>'");
  }
  const std::string_view rest = header_value.substr(kScheme.size());
  // The signature is base64 (no ':'), so the last ':' separates it from the credential.
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size()) {
    return absl::InvalidArgumentError(
        "Authorization header is malformed: expected 'ODPS <credential>:<signature>'");
  }
  const std::string_view credential = rest.substr(0, colon);
  ParsedAuthorization parsed;
  parsed.signature = std::string(rest.substr(colon + 1));
  const std::vector<std::string> parts =
      absl::StrSplit(absl::string_view(credential.data(), credential.size()), '/');
  if (parts.size() == 1) {
    parsed.access_key_id = parts[0];
    return parsed;
  }
  if (parts.size() != 5 || parts[0].empty() || parts[1].size() != 8 ||
      !std::all_of(parts[1].begin(), parts[1].end(), absl::ascii_isdigit) || parts[2].empty() ||
      parts[3] != "odps" || parts[4] != "aliyun_v4_request") {
    return absl::InvalidArgumentError(
        absl::StrCat("Authorization credential has ", parts.size(),
                     " '/'-separated parts but is not of the form "
                     "'<AccessKeyId>/<yyyyMMdd>/<region>/odps/aliyun_v4_request'"));
  }
  parsed.access_key_id = parts[0];
  parsed.v4_scope = V4Scope{parts[1], parts[2]};
  return parsed;
}

bool SignaturesEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string FormatHttpDate(absl::Time time) {
  return absl::FormatTime(kHttpDateFormat, time, absl::UTCTimeZone());
}

absl::StatusOr<absl::Time> ParseHttpDate(std::string_view text) {
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(kHttpDateFormat, absl::string_view(text.data(), text.size()),
                       absl::UTCTimeZone(), &time, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Date '", absl::string_view(text.data(), text.size()),
                     "' is not an RFC 822 GMT date like 'Thu, 01 Jan 2026 00:00:00 GMT': ", error));
  }
  return time;
}

std::string FormatScopeDate(absl::Time time) {
  return absl::FormatTime("%Y%m%d", time, absl::UTCTimeZone());
}

void SignRequest(std::string_view method, std::string_view resource, const QueryParams& query,
                 Headers* headers, const Credentials& credentials, absl::Time now,
                 const std::optional<std::string>& region) {
  if (!FindHeader(*headers, kDateHeader)) SetHeader(headers, kDateHeader, FormatHttpDate(now));
  RemoveHeader(headers, kAuthorizationHeader);
  std::optional<V4Scope> scope;
  // J, C and P sign V4 with the client's current UTC date, not the one parsed from Date (§1.3).
  if (region && !region->empty()) scope = V4Scope{FormatScopeDate(now), *region};
  const std::string canonical = BuildCanonicalString(method, resource, query, *headers);
  const std::string signature = ComputeSignature(canonical, credentials.access_key_secret, scope);
  headers->emplace_back(kAuthorizationHeader,
                        FormatAuthorization(credentials.access_key_id, scope, signature));
  if (credentials.security_token.empty()) {
    RemoveHeader(headers, kStsTokenHeader);
  } else {
    SetHeader(headers, kStsTokenHeader, credentials.security_token);
  }
}

RequestSigningHook MakeOdpsSigner(std::shared_ptr<CredentialsProvider> credentials,
                                  std::optional<std::string> region) {
  return [credentials = std::move(credentials),
          region = std::move(region)](HttpRequest* attempt) -> absl::Status {
    MCSINK_ASSIGN_OR_RETURN(const Credentials current, credentials->Get());
    SignRequest(attempt->method, attempt->path, attempt->query, &attempt->headers, current,
                absl::Now(), region);
    return absl::OkStatus();
  };
}

}  // namespace mcsink::maxcompute_client
