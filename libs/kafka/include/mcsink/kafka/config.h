// librdkafka configuration from a property map, with every refused property named at once.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "librdkafka/rdkafkacpp.h"

namespace mcsink::kafka {

using Properties = std::map<std::string, std::string>;

// A global (RdKafka::Conf::CONF_GLOBAL) configuration with `properties` set. Fails with
// InvalidArgument listing each property librdkafka refused and why; secret-looking values
// (sasl.password, ssl.key.password, ...) are never echoed.
absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConf(const Properties& properties);

// True for property names whose values must not appear in logs or errors.
bool IsSecretProperty(const std::string& name);

}  // namespace mcsink::kafka
