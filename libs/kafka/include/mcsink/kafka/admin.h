// A Kafka admin client on librdkafka's C API (the C++ binding has none): topics, topic configs,
// watermarks and a group's committed offsets (read and altered). Not for librdkafka's mock cluster,
// which has no admin APIs.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mcsink/kafka/config.h"

struct rd_kafka_s;

namespace mcsink::kafka {

struct TopicSpec {
  std::string name;
  int partitions = 1;
  int replication_factor = -1;                 // -1: the broker's default.replication.factor
  std::map<std::string, std::string> configs;  // e.g. {"cleanup.policy", "compact"}
};

struct TopicDescription {
  std::string name;
  int partitions = 0;
  std::map<std::string, std::string> configs;  // every config the broker reports
};

struct PartitionWatermarks {
  int32_t partition = 0;
  int64_t low = 0;   // first offset still in the log
  int64_t high = 0;  // log end offset: the offset of the next record
};

class Admin {
 public:
  // `properties` must hold bootstrap.servers, plus any security settings.
  static absl::StatusOr<std::unique_ptr<Admin>> Create(const Properties& properties);
  ~Admin();
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;

  // AlreadyExists when the topic exists (whatever its settings: check with DescribeTopic).
  // Returns once the broker's metadata shows the topic, also when another client has just
  // created it (AlreadyExists), so callers can describe or use it at once.
  absl::Status CreateTopic(const TopicSpec& spec, absl::Duration timeout = absl::Seconds(30));
  // NotFound when the topic does not exist. Returns once the broker's metadata no longer shows
  // the topic.
  absl::Status DeleteTopic(const std::string& topic, absl::Duration timeout = absl::Seconds(30));
  // Partition count and configs; NotFound when the topic does not exist.
  absl::StatusOr<TopicDescription> DescribeTopic(const std::string& topic,
                                                 absl::Duration timeout = absl::Seconds(30));
  // Low and high watermarks of every partition of `topic`, by partition number.
  absl::StatusOr<std::vector<PartitionWatermarks>> Watermarks(
      const std::string& topic, absl::Duration timeout = absl::Seconds(30));
  // The offsets `group` has committed for `topic`, by partition; partitions without a
  // committed offset are absent.
  absl::StatusOr<std::map<int32_t, int64_t>> CommittedOffsets(
      const std::string& group, const std::string& topic,
      absl::Duration timeout = absl::Seconds(30));
  // Sets the offsets `group` has committed for `topic` (partition -> next offset to consume).
  // The broker refuses while the group has active members (FailedPrecondition: stop or pause
  // the consumers first). Each refused partition is named.
  absl::Status AlterCommittedOffsets(const std::string& group, const std::string& topic,
                                     const std::map<int32_t, int64_t>& offsets,
                                     absl::Duration timeout = absl::Seconds(30));

 private:
  explicit Admin(rd_kafka_s* handle) : handle_(handle) {}
  absl::StatusOr<int> PartitionCount(const std::string& topic, absl::Duration timeout);
  rd_kafka_s* handle_;
};

}  // namespace mcsink::kafka
