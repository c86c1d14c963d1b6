// Secrets are configured by reference (proto SecretRef: an environment variable or a file) and
// read only where they are used, never stored in a config or echoed.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "mcsink/kafka/config.h"
#include "mcsink/v1/connector.pb.h"

namespace mcsink::config {

// The secret a reference names: the environment variable's value or the file's content (one
// trailing newline removed). Errors name the variable or file, never a value.
absl::StatusOr<std::string> ReadSecret(const v1::SecretRef& ref);

// The connector's Kafka client properties with its secret references (kafka_secrets) read.
absl::StatusOr<kafka::Properties> KafkaPropertiesFor(const v1::ConnectorConfig& config);

}  // namespace mcsink::config
