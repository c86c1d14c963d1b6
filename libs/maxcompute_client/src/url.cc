#include "mcsink/maxcompute_client/url.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace mcsink::maxcompute_client {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Encode(std::string_view text, bool keep_slash) {
  std::string out;
  out.reserve(text.size() + text.size() / 2);
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string PlusToSpace(std::string_view text) {
  std::string out(text);
  std::replace(out.begin(), out.end(), '+', ' ');
  return out;
}

}  // namespace

std::string PercentEncode(std::string_view text) { return Encode(text, /*keep_slash=*/false); }

std::string PercentEncodePath(std::string_view path) { return Encode(path, /*keep_slash=*/true); }

absl::StatusOr<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    const int hi = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
    const int lo = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(absl::StrCat("invalid percent-escape at offset ", i,
                                                     " in '", std::string(text),
                                                     "': expected % followed by two hex digits"));
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

absl::StatusOr<QueryParams> ParseQueryString(std::string_view raw_query) {
  QueryParams params;
  size_t start = 0;
  while (start <= raw_query.size()) {
    size_t end = raw_query.find('&', start);
    if (end == std::string_view::npos) end = raw_query.size();
    const std::string_view part = raw_query.substr(start, end - start);
    if (!part.empty()) {
      const size_t eq = part.find('=');
      const std::string_view name = part.substr(0, eq);
      const std::string_view value =
          eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
      auto decoded_name = PercentDecode(PlusToSpace(name));
      if (!decoded_name.ok()) return decoded_name.status();
      auto decoded_value = PercentDecode(PlusToSpace(value));
      if (!decoded_value.ok()) return decoded_value.status();
      params.emplace_back(*std::move(decoded_name), *std::move(decoded_value));
    }
    start = end + 1;
  }
  return params;
}

std::string BuildQueryString(const QueryParams& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    out += PercentEncode(name);
    if (!value.empty()) {
      out.push_back('=');
      out += PercentEncode(value);
    }
  }
  return out;
}

std::string_view StripPathPrefix(std::string_view path, std::string_view prefix) {
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  if (prefix.empty() || path.substr(0, prefix.size()) != prefix) return path;
  const std::string_view rest = path.substr(prefix.size());
  if (rest.empty()) return "/";
  if (rest.front() != '/') return path;  // `/apix` is not under `/api`
  return rest;
}

}  // namespace mcsink::maxcompute_client
