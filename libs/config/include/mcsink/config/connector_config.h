// The connector configuration (proto/mcsink/v1/connector.proto): defaults, validation that
// names every bad field at once, and loading from a JSON file. A config is validated here, once,
// and then passed around as an immutable value.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mcsink/v1/connector.pb.h"

namespace mcsink::config {

struct FieldViolation {
  std::string field;    // proto field path, e.g. "target.project"
  std::string message;  // what is wrong and what is allowed
};

// The config with every unset field given its default: consumer group connect-<name>,
// concurrency 6, earliest, continue, automatic topics named connect-{offset,config,status,
// error}-<name>, mode DEFAULT, format TEXT, HOUR partitions in GMT+08:00.
v1::ConnectorConfig WithDefaults(v1::ConnectorConfig config);

// Every rule the config breaks (empty when valid). Expects WithDefaults applied.
std::vector<FieldViolation> Validate(const v1::ConnectorConfig& config);

// WithDefaults, then Validate: the config, or InvalidArgument listing every violation as
// "field: message".
absl::StatusOr<v1::ConnectorConfig> Normalize(v1::ConnectorConfig config);

// Reads a config from a JSON file (proto3 JSON mapping: field names as in the proto or
// lowerCamelCase, enums by name) and normalizes it.
absl::StatusOr<v1::ConnectorConfig> LoadJsonFile(const std::string& path);

// The config as JSON with secret references shown as references only (it never holds secret
// values), for logs and for Get.
std::string ToJson(const v1::ConnectorConfig& config);

// Rules shared with other checks.
bool IsValidConnectorName(const std::string& name);
bool IsValidTopicName(const std::string& name);

}  // namespace mcsink::config
