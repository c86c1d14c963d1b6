#include "mcsink/maxcompute_client/credentials.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mcsink::maxcompute_client {
namespace {

// Enough of the id to tell keys apart in logs; the id is not a secret but need not be whole.
std::string MaskId(const std::string& id) {
  if (id.size() <= 8) return std::string(id.size(), '*');
  return absl::StrCat(id.substr(0, 4), "****", id.substr(id.size() - 4));
}

}  // namespace

std::string RedactedDebugString(const Credentials& credentials) {
  std::string out = absl::StrCat("Credentials{access_key_id=", MaskId(credentials.access_key_id),
                                 ", access_key_secret=<redacted>");
  if (!credentials.security_token.empty()) absl::StrAppend(&out, ", security_token=<redacted>");
  if (credentials.expiration) {
    absl::StrAppend(&out, ", expiration=", absl::FormatTime(*credentials.expiration));
  }
  out.push_back('}');
  return out;
}

std::ostream& operator<<(std::ostream& os, const Credentials& credentials) {
  return os << RedactedDebugString(credentials);
}

StaticCredentialsProvider::StaticCredentialsProvider(Credentials credentials)
    : credentials_(std::move(credentials)) {}

absl::StatusOr<Credentials> StaticCredentialsProvider::Get() {
  if (credentials_.access_key_id.empty() || credentials_.access_key_secret.empty()) {
    return absl::FailedPreconditionError(
        "static credentials have an empty AccessKey id or secret: configure both");
  }
  return credentials_;
}

EnvCredentialsProvider::EnvCredentialsProvider(EnvVariableNames names) : names_(std::move(names)) {}

absl::StatusOr<Credentials> EnvCredentialsProvider::Get() {
  auto read = [](const std::string& name) -> std::string {
    if (name.empty()) return "";
    const char* value = std::getenv(name.c_str());
    return value == nullptr ? "" : value;
  };
  Credentials credentials;
  credentials.access_key_id = read(names_.access_key_id);
  credentials.access_key_secret = read(names_.access_key_secret);
  credentials.security_token = read(names_.security_token);
  for (const auto& [name, value] :
       {std::pair{&names_.access_key_id, &credentials.access_key_id},
        std::pair{&names_.access_key_secret, &credentials.access_key_secret}}) {
    if (value->empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "environment variable ", *name, " is unset or empty: export the AccessKey there"));
    }
  }
  return credentials;
}

absl::StatusOr<Credentials> ParseCredentialsFile(std::string_view content,
                                                 std::string_view source) {
  const absl::string_view src(source.data(), source.size());
  Credentials credentials;
  int line_number = 0;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(content.data(), content.size()), '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(src, ":", line_number,
                       ": expected 'key = value' (keys: access_key_id, "
                       "access_key_secret, security_token)"));
    }
    const absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, eq));
    const std::string value(absl::StripAsciiWhitespace(line.substr(eq + 1)));
    if (key == "access_key_id") {
      credentials.access_key_id = value;
    } else if (key == "access_key_secret") {
      credentials.access_key_secret = value;
    } else if (key == "security_token") {
      credentials.security_token = value;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(src, ":", line_number, ": unknown key '", key,
                       "' (keys: access_key_id, access_key_secret, security_token)"));
    }
  }
  if (credentials.access_key_id.empty() || credentials.access_key_secret.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        src, ": access_key_id and access_key_secret are both required and must be non-empty"));
  }
  return credentials;
}

FileCredentialsProvider::FileCredentialsProvider(std::filesystem::path path)
    : path_(std::move(path)) {}

absl::StatusOr<Credentials> FileCredentialsProvider::Get() {
  std::lock_guard<std::mutex> lock(mu_);
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(path_, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot stat credentials file ", path_.string(), ": ", ec.message()));
  }
  if (loaded_mtime_ && *loaded_mtime_ == mtime) return cached_;
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open credentials file ", path_.string(), " for reading"));
  }
  std::ostringstream content;
  content << in.rdbuf();
  auto parsed = ParseCredentialsFile(content.str(), path_.string());
  if (!parsed.ok()) return parsed.status();
  cached_ = *std::move(parsed);
  loaded_mtime_ = mtime;
  return cached_;
}

}  // namespace mcsink::maxcompute_client
