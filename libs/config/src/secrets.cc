#include "mcsink/config/secrets.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "mcsink/common/status.h"

namespace mcsink::config {

absl::StatusOr<std::string> ReadSecret(const v1::SecretRef& ref) {
  if (ref.has_env()) {
    const char* value = std::getenv(ref.env().c_str());
    if (value == nullptr || *value == '\0') {
      return absl::FailedPreconditionError(
          absl::StrCat("environment variable ", ref.env(), " is not set"));
    }
    return std::string(value);
  }
  if (ref.has_file()) {
    std::ifstream in(ref.file());
    if (!in) return absl::FailedPreconditionError(absl::StrCat("cannot read ", ref.file()));
    std::stringstream text;
    text << in.rdbuf();
    std::string value = text.str();
    if (absl::EndsWith(value, "\n")) value.pop_back();
    if (absl::EndsWith(value, "\r")) value.pop_back();
    if (value.empty()) return absl::FailedPreconditionError(absl::StrCat(ref.file(), " is empty"));
    return value;
  }
  return absl::InvalidArgumentError("a secret reference names neither env nor file");
}

absl::StatusOr<kafka::Properties> KafkaPropertiesFor(const v1::ConnectorConfig& config) {
  kafka::Properties props(config.kafka_properties().begin(), config.kafka_properties().end());
  for (const auto& [name, ref] : config.kafka_secrets()) {
    auto value = ReadSecret(ref);
    if (!value.ok()) return Annotate(value.status(), absl::StrCat("Kafka property ", name));
    props[name] = *std::move(value);
  }
  return props;
}

}  // namespace mcsink::config
