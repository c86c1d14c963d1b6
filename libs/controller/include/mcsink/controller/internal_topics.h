// A connector's five internal topics (the guide's table 1): created with the right settings in
// automatic mode, checked in manual mode (and when they already exist), with errors that name
// the topic and the rule it breaks.
//   offset topic       > 1 partition, cleanup.policy=compact     (created with 12)
//   config topic       exactly 1 partition, cleanup.policy=compact
//   status topic       cleanup.policy=compact, 6 partitions recommended
//   dead-letter topic  6 partitions recommended (may be the error topic)
//   error topic        6 partitions recommended
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "mcsink/kafka/admin.h"
#include "mcsink/v1/connector.pb.h"

namespace mcsink::controller {

struct TopicRule {
  std::string role;   // "offset topic", "config topic", ...
  std::string field;  // the config field naming it: "topics.offset_topic"
  std::string name;
  int create_partitions = 6;
  int min_partitions = 1;  // inclusive
  int max_partitions = 0;  // 0: no maximum
  bool compact = false;
};

// The rules for `config`'s topics, without duplicates (dead-letter and error may share a topic).
std::vector<TopicRule> InternalTopicRules(const v1::ConnectorConfig& config);

// Whether `topic` satisfies `rule`; FailedPrecondition naming the topic, the field and the rule.
absl::Status CheckTopic(const TopicRule& rule, const kafka::TopicDescription& topic);

// Automatic mode: creates missing topics and checks existing ones. Manual mode: checks that each
// exists and satisfies its rule. Every problem is reported at once.
absl::Status EnsureInternalTopics(kafka::Admin& admin, const v1::ConnectorConfig& config);

}  // namespace mcsink::controller
