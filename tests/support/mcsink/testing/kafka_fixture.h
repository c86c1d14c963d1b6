// The real single-node Kafka broker started by the CTest fixture `kafka` (tests/fixtures).
// Tests that use it declare FIXTURES kafka; the fixture writes the broker's bootstrap address to
// the file named by MCSINK_KAFKA_BOOTSTRAP_FILE.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace mcsink::testing {

absl::StatusOr<std::string> KafkaFixtureBootstrap();

// A topic name unique to this process and call, so tests never share topics.
std::string UniqueTopicName(const std::string& prefix);

}  // namespace mcsink::testing
