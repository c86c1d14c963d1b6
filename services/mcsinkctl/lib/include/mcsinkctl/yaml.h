// A small, strict reader for the subset of YAML a connector config needs, so configs can be
// written the way Kubernetes and Kafka Connect users write them without a YAML dependency.
//
// Accepted: block mappings (`key: value`), nested by indentation with spaces; plain scalars;
// single- and double-quoted scalars (with their escapes); `#` comments (whole line, or after a
// space); blank lines; one leading `---`. Anything else (sequences, flow collections `{}`/`[]`,
// anchors, aliases, tags, block scalars `|`/`>`, multi-line scalars, tabs in indentation,
// duplicate keys) is rejected with its line and column, never guessed at.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace mcsink::ctl {

// The YAML document as JSON text: mappings become objects (keys in document order), `null`,
// `~` and an empty value become null, and every other scalar becomes a JSON string. Scalars are
// left as strings on purpose: protobuf's JSON parser converts a string to the field's type
// (number, bool, enum), and a map<string, string> value such as `linger.ms: 5` stays the string
// it must be. Errors are InvalidArgument "<source_name>:<line>:<column>: <what>".
absl::StatusOr<std::string> YamlToJson(const std::string& text, const std::string& source_name);

}  // namespace mcsink::ctl
