#include "mcsink/controller/internal_topics.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace mcsink::controller {

std::vector<TopicRule> InternalTopicRules(const v1::ConnectorConfig& config) {
  const v1::InternalTopics& t = config.topics();
  std::vector<TopicRule> rules = {
      {"offset topic", "topics.offset_topic", t.offset_topic(), 12, 2, 0, true},
      {"config topic", "topics.config_topic", t.config_topic(), 1, 1, 1, true},
      {"status topic", "topics.status_topic", t.status_topic(), 6, 1, 0, true},
      {"dead-letter topic", "topics.dead_letter_topic", t.dead_letter_topic(), 6, 1, 0, false},
  };
  if (t.error_topic() != t.dead_letter_topic()) {
    rules.push_back({"error topic", "topics.error_topic", t.error_topic(), 6, 1, 0, false});
  }
  return rules;
}

absl::Status CheckTopic(const TopicRule& rule, const kafka::TopicDescription& topic) {
  std::vector<std::string> broken;
  if (rule.max_partitions == 1 && topic.partitions != 1) {
    broken.push_back(absl::StrCat("must have exactly 1 partition, has ", topic.partitions));
  } else if (topic.partitions < rule.min_partitions) {
    broken.push_back(absl::StrCat("must have more than ", rule.min_partitions - 1,
                                  " partition(s), has ", topic.partitions));
  }
  if (rule.compact) {
    auto policy = topic.configs.find("cleanup.policy");
    const std::string value = policy == topic.configs.end() ? "delete" : policy->second;
    bool compact = false;
    for (absl::string_view p : absl::StrSplit(value, ',')) compact |= p == "compact";
    if (!compact) {
      broken.push_back(
          absl::StrCat("must have cleanup.policy=compact, has cleanup.policy=", value));
    }
  }
  if (broken.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(rule.field, ": ", rule.role, " ", rule.name,
                                                    " ", absl::StrJoin(broken, " and ")));
}

absl::Status EnsureInternalTopics(kafka::Admin& admin, const v1::ConnectorConfig& config) {
  const bool automatic = config.resource_creation() != v1::RESOURCE_CREATION_MANUAL;
  std::vector<std::string> problems;
  for (const TopicRule& rule : InternalTopicRules(config)) {
    auto described = admin.DescribeTopic(rule.name);
    if (described.status().code() == absl::StatusCode::kNotFound && automatic) {
      kafka::TopicSpec spec{.name = rule.name, .partitions = rule.create_partitions};
      if (rule.compact) spec.configs["cleanup.policy"] = "compact";
      absl::Status created = admin.CreateTopic(spec);
      // Another controller may have created it meanwhile; then it is checked below.
      if (!created.ok() && created.code() != absl::StatusCode::kAlreadyExists) {
        problems.push_back(absl::StrCat(rule.field, ": cannot create ", rule.role, " ", rule.name,
                                        ": ", created.message()));
        continue;
      }
      described = admin.DescribeTopic(rule.name);
    }
    if (described.status().code() == absl::StatusCode::kNotFound) {
      problems.push_back(absl::StrCat(rule.field, ": ", rule.role, " ", rule.name,
                                      " does not exist; create it or choose automatic creation"));
      continue;
    }
    if (!described.ok()) {
      problems.push_back(absl::StrCat(rule.field, ": cannot describe ", rule.role, " ", rule.name,
                                      ": ", described.status().message()));
      continue;
    }
    if (absl::Status s = CheckTopic(rule, *described); !s.ok()) {
      problems.push_back(std::string(s.message()));
    }
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrJoin(problems, "; "));
}

}  // namespace mcsink::controller
