// A connector config as the user gives it to mcsinkctl: a YAML or JSON file (proto3 JSON
// mapping: field names as in connector.proto, enums by full name), then flags for the common
// fields, which override the file.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mcsink/v1/connector.pb.h"
#include "mcsinkctl/args.h"

namespace mcsink::ctl {

// A flag that sets one field of ConnectorConfig.
struct ConfigFlag {
  const char* flag;   // without dashes, e.g. "topic"
  const char* field;  // field path in ConnectorConfig, e.g. "source_topic", "target.project"
  const char* help;
};
const std::vector<ConfigFlag>& ConfigFlags();

// Parses a config file: JSON when the name ends in .json or the text starts with `{`, YAML
// otherwise. Unknown fields are errors. Defaults are not applied (the controller applies them).
absl::StatusOr<v1::ConnectorConfig> ParseConfigText(const std::string& text,
                                                    const std::string& source_name);
absl::StatusOr<v1::ConnectorConfig> LoadConfigFile(const std::string& path);

// Sets the fields named by the config flags present in `invocation` (and every
// --kafka-property key=value). Enum values are accepted by full name or by their last words,
// in any case: `earliest`, `INITIAL_OFFSET_EARLIEST`, `record-time`. Every bad flag is listed
// in one InvalidArgument.
absl::Status ApplyConfigFlags(const Invocation& invocation, v1::ConnectorConfig* config);

// The config from -f and the flags; InvalidArgument when neither gives a name.
absl::StatusOr<v1::ConnectorConfig> ConfigFromInvocation(const Invocation& invocation);

}  // namespace mcsink::ctl
