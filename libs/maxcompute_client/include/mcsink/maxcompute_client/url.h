// Percent-encoding and query-string helpers shared by request signing (client and mclocal's
// verifier), the HTTP client and the STS (RPC-style) signer.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace mcsink::maxcompute_client {

// One query parameter, decoded. An empty value means "no value" (`?partitions`): MaxCompute
// canonicalises `name` and `name=` the same way (protocol §1.1).
using QueryParam = std::pair<std::string, std::string>;
using QueryParams = std::vector<QueryParam>;

// RFC 3986 strict encoding: A-Z a-z 0-9 - _ . ~ are kept, every other byte becomes %XX with upper
// hex. This is also Alibaba Cloud's POP "percentEncode" (space -> %20, `*` -> %2A, `~` kept).
std::string PercentEncode(std::string_view text);

// Like PercentEncode but keeps `/`, for URL paths.
std::string PercentEncodePath(std::string_view path);

// Decodes %XX sequences; `+` stays a literal `+` (pyodps signs `unquote(url)`, which does the
// same). Fails on a truncated or non-hex escape.
absl::StatusOr<std::string> PercentDecode(std::string_view text);

// Parses a raw query string (`a=1&b&c=x%3Dy`, without the `?`) into decoded parameters, in order.
// `+` decodes to a space (form encoding): pyodps sends spaces as `+` and signs them as spaces (it
// runs parse_qsl over the unquoted URL), J sends `%20` and `%2B`, and this client sends `%20` and
// `%2B`, so this decoding gives the signed value in all three cases. The one value no server
// decoding can match is a literal `+` from pyodps, which pyodps itself signs as a space.
absl::StatusOr<QueryParams> ParseQueryString(std::string_view raw_query);

// `name=value&name2` with both parts PercentEncoded; a parameter with an empty value is written
// as its name only. Order is kept.
std::string BuildQueryString(const QueryParams& params);

// Removes a mount prefix such as `/api` from a request path when it is a whole leading segment
// (`/api/projects/p` -> `/projects/p`; `/apix` and `/projects` are left alone). The signed
// resource is always relative to the endpoint (protocol §1.2).
std::string_view StripPathPrefix(std::string_view path, std::string_view prefix);

}  // namespace mcsink::maxcompute_client
