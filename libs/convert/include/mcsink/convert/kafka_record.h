// The converter's input: one Kafka record as zero-copy views into a buffer the caller owns
// (a librdkafka message, or a RecordBatch received over gRPC). No protobuf here: the service maps
// its messages to these views.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace mcsink::convert {

// Kafka's timestamp types. kNone is a record without a timestamp (message format v0, or a
// timestamp of -1).
enum class TimestampType { kNone, kCreateTime, kLogAppendTime };

struct KafkaHeaderView {
  std::string_view key;
  std::optional<std::string_view> value;
};

struct KafkaRecordView {
  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = -1;  // milliseconds since the Unix epoch; meaningful unless kNone
  TimestampType timestamp_type = TimestampType::kNone;
  std::optional<std::string_view> key;  // nullopt = null key (not the same as an empty key)
  std::optional<std::string_view> value;
  std::span<const KafkaHeaderView> headers;

  // True when the record carries a usable timestamp (Kafka writes -1 for "none").
  bool has_timestamp() const { return timestamp_type != TimestampType::kNone && timestamp_ms >= 0; }
};

}  // namespace mcsink::convert
