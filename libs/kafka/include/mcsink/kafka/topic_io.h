// Keyed records in small, compacted control topics (the controller's registry, a connector's
// config and status topics): a producer that waits for each write to be acknowledged, and a
// reader of a topic's latest value per key.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "mcsink/kafka/config.h"

namespace mcsink::kafka {

// Where a write landed.
struct WrittenOffset {
  int32_t partition = 0;
  int64_t offset = 0;
};

// A producer for control records: idempotent, acks=all, one write at a time.
class KeyedWriter {
 public:
  static absl::StatusOr<std::unique_ptr<KeyedWriter>> Create(const Properties& properties);
  ~KeyedWriter();
  KeyedWriter(const KeyedWriter&) = delete;
  KeyedWriter& operator=(const KeyedWriter&) = delete;

  // Writes `value` (nullopt: a tombstone) under `key` and waits until the broker has it.
  absl::StatusOr<WrittenOffset> Write(const std::string& topic, const std::string& key,
                                      const std::optional<std::string>& value,
                                      absl::Duration timeout = absl::Seconds(30));

 private:
  struct Impl;
  explicit KeyedWriter(std::unique_ptr<Impl> impl);
  absl::Mutex mu_;
  std::unique_ptr<Impl> impl_ ABSL_GUARDED_BY(mu_);
};

// The latest value of every key in `topic` (all partitions, from the beginning up to the end
// offsets seen when the call starts); keys whose latest record is a tombstone are absent.
// NotFound when the topic does not exist.
absl::StatusOr<std::map<std::string, std::string>> ReadLatestByKey(
    const Properties& properties, const std::string& topic,
    absl::Duration timeout = absl::Seconds(30));

}  // namespace mcsink::kafka
