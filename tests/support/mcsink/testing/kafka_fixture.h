// The real single-node Kafka broker started by the CTest fixture `kafka` (tests/fixtures).
// Tests that use it declare FIXTURES kafka; the fixture writes the broker's bootstrap address to
// the file named by MCSINK_KAFKA_BOOTSTRAP_FILE.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"

namespace mcsink::testing {

absl::StatusOr<std::string> KafkaFixtureBootstrap();

// Produces `count` records to `topic` and waits until every one is acknowledged by the broker.
// Record i has key make_key(i) and value make_value(i); it goes to `partition`, or by key hash
// when `partition` is -1.
absl::Status ProduceTestRecords(const std::string& bootstrap, const std::string& topic,
                                int64_t count, const std::function<std::string(int64_t)>& make_key,
                                const std::function<std::string(int64_t)>& make_value,
                                int32_t partition = -1);

// A name unique to this process and call (and, by a random tag, to this process among any with
// the same pid), so tests never share topics, connectors or directories.
std::string UniqueTopicName(const std::string& prefix);

}  // namespace mcsink::testing
