// Access credentials and the providers that produce them. A provider is asked before every
// signature, so rotating (STS) credentials take effect without restarting anything.
//
// Secrets never reach logs or error messages: Credentials prints through a redacting operator<<,
// and provider errors name the variable, file or role, never a value.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mcsink::maxcompute_client {

// An AccessKey pair, plus the SecurityToken when the pair is temporary (STS).
struct Credentials {
  std::string access_key_id;
  std::string access_key_secret;
  std::string security_token;            // empty for a long-lived AccessKey
  std::optional<absl::Time> expiration;  // set for STS credentials
};

// `Credentials{access_key_id=LTAI****abcd, access_key_secret=<redacted>, ...}`.
std::string RedactedDebugString(const Credentials& credentials);
std::ostream& operator<<(std::ostream& os, const Credentials& credentials);

// Where credentials come from. Get() is thread-safe and cheap when nothing needs refreshing.
class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  virtual absl::StatusOr<Credentials> Get() = 0;
};

// Always the same credentials: a long-lived AccessKey, or an STS triple obtained elsewhere
// (the token is then sent in `authorization-sts-token`, protocol §1.4).
class StaticCredentialsProvider final : public CredentialsProvider {
 public:
  explicit StaticCredentialsProvider(Credentials credentials);
  absl::StatusOr<Credentials> Get() override;

 private:
  Credentials credentials_;
};

// Names of the environment variables read by EnvCredentialsProvider.
struct EnvVariableNames {
  std::string access_key_id = "ALIBABA_CLOUD_ACCESS_KEY_ID";
  std::string access_key_secret = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
  std::string security_token = "ALIBABA_CLOUD_SECURITY_TOKEN";  // optional variable
};

// Reads the variables on every Get(), so a changed environment is picked up. Fails with
// FailedPrecondition naming the missing variable when the id or secret is unset or empty.
class EnvCredentialsProvider final : public CredentialsProvider {
 public:
  explicit EnvCredentialsProvider(EnvVariableNames names = {});
  absl::StatusOr<Credentials> Get() override;

 private:
  EnvVariableNames names_;
};

// Reads credentials from a file; re-reads it when its modification time changes, so an external
// rotator can rewrite it. Format: one `key = value` per line, blank lines and lines starting with
// `#` ignored, whitespace around keys and values trimmed. Keys:
//   access_key_id       (required)
//   access_key_secret   (required)
//   security_token      (optional; makes the credentials STS credentials)
// Unknown keys are rejected, to catch typos.
class FileCredentialsProvider final : public CredentialsProvider {
 public:
  explicit FileCredentialsProvider(std::filesystem::path path);
  absl::StatusOr<Credentials> Get() override;

 private:
  const std::filesystem::path path_;
  std::mutex mu_;
  std::optional<std::filesystem::file_time_type> loaded_mtime_;
  Credentials cached_;
};

// Parses the file format above; `source` names the input in error messages.
absl::StatusOr<Credentials> ParseCredentialsFile(std::string_view content, std::string_view source);

}  // namespace mcsink::maxcompute_client
