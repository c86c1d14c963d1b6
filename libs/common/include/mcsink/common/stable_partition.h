// A stable choice of partition for a key: the same in every process, platform and version, unlike
// std::hash. Used to place a connector's records in its offset topic (the exactly-once journal,
// and beside it the error topics' produced offsets).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>

namespace mcsink {

// FNV-1a (32 bit) of `key`, modulo `partition_count` (taken as at least 1).
inline int32_t StablePartition(std::string_view key, int partition_count) {
  uint32_t hash = 2166136261u;
  for (unsigned char c : key) {
    hash ^= c;
    hash *= 16777619u;
  }
  return static_cast<int32_t>(hash % static_cast<uint32_t>(std::max(1, partition_count)));
}

}  // namespace mcsink
