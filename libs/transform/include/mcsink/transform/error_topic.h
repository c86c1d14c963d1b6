// Records that could not be converted go to the connector's error topic, never silently
// dropped: the original key, value and timestamp, with headers that say why. Framework-level
// failures go to the dead-letter topic (ingest produces them with this same writer) with the same
// context. This file is the one place the header names are defined.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "mcsink/kafka/config.h"
#include "mcsink/v1/pipeline.pb.h"

namespace RdKafka {
class Producer;
class DeliveryReportCb;
}  // namespace RdKafka

namespace mcsink::transform {

// Header names on error-topic and dead-letter-topic records.
inline constexpr char kHeaderConnector[] = "mcsink.connector";
inline constexpr char kHeaderTopic[] = "mcsink.source.topic";
inline constexpr char kHeaderPartition[] = "mcsink.source.partition";
inline constexpr char kHeaderOffset[] = "mcsink.source.offset";
inline constexpr char kHeaderCode[] = "mcsink.error.code";
inline constexpr char kHeaderColumn[] = "mcsink.error.column";
inline constexpr char kHeaderMessage[] = "mcsink.error.message";

struct ErrorRecord {
  std::string topic;  // where the record came from
  const v1::KafkaRecord* record = nullptr;
  std::string code;
  std::string column;
  std::string message;
};

class ErrorTopicWriter {
 public:
  // Called once per Send: OK when the broker acknowledged the record, else why it did not.
  using Done = std::function<void(const absl::Status& delivery)>;

  // `client_suffix` names the producer's client.id (<connector>-<suffix>) for broker-side logs.
  static absl::StatusOr<std::unique_ptr<ErrorTopicWriter>> Create(
      const kafka::Properties& properties, std::string connector,
      const std::string& client_suffix = "errors");
  ~ErrorTopicWriter();

  // Produces `error` to `topic` (idempotent producer, acks=all); `done` runs on the writer's
  // poll thread once the broker answered.
  void Send(const std::string& topic, const ErrorRecord& error, Done done);
  // Waits up to `timeout` for outstanding deliveries.
  void Flush(absl::Duration timeout);

 private:
  class Reports;
  ErrorTopicWriter() = default;
  std::string connector_;
  std::unique_ptr<Reports> reports_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

}  // namespace mcsink::transform
