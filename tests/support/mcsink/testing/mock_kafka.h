// librdkafka's in-process mock cluster, for fast unit tests of Kafka client code only.
// Limits (librdkafka 2.0.2): no admin APIs (topics come from CreateTopic below or
// auto-creation with 4 partitions), random ports, and about 5 MiB / 100,000 messages kept per
// partition, beyond which data is silently dropped. Never the broker of an integration test.
#pragma once

#include <string>

#include "absl/status/status.h"

struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace mcsink::testing {

class MockKafkaCluster {
 public:
  explicit MockKafkaCluster(int brokers = 1);
  ~MockKafkaCluster();
  MockKafkaCluster(const MockKafkaCluster&) = delete;
  MockKafkaCluster& operator=(const MockKafkaCluster&) = delete;

  const std::string& bootstrap_servers() const { return bootstrap_; }
  absl::Status CreateTopic(const std::string& topic, int partitions);

 private:
  rd_kafka_s* handle_ = nullptr;
  rd_kafka_mock_cluster_s* cluster_ = nullptr;
  std::string bootstrap_;
};

}  // namespace mcsink::testing
