// Constants and primitive encodings of the Tunnel record stream (maxcompute-protocol.md §3.8),
// shared by RecordEncoder and RecordStreamReader so the format is written down once.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mcsink/maxcompute/types.h"

namespace mcsink::maxcompute::wire {

// Field numbers of the special tags (§3.8.1).
inline constexpr uint32_t kEndRecordField = 33553408;     // 2^25 - 1024
inline constexpr uint32_t kMetaCountField = 33554430;     // 2^25 - 2
inline constexpr uint32_t kMetaChecksumField = 33554431;  // 2^25 - 1
inline constexpr uint32_t kMetricsField = 1;              // only between count and checksum
inline constexpr uint32_t kMetricsEndField = 33554176;    // 2^25 - 256

// Protobuf wire types used by the stream.
enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kFixed32 = 5,
};

constexpr uint32_t MakeTag(uint32_t field, WireType wire_type) { return (field << 3) | wire_type; }

// Data columns are field numbers 1..n; the largest n that stays clear of the special tags.
inline constexpr int kMaxColumns = static_cast<int>(kEndRecordField) - 1;

// MaxCompute's per-cell limit for STRING/BINARY values (8 MiB, §6); the server rejects larger.
inline constexpr int64_t kMaxCellBytes = int64_t{8} << 20;

// Maximum encoded sizes of a varint.
inline constexpr size_t kMaxVarint32Bytes = 5;
inline constexpr size_t kMaxVarint64Bytes = 10;

constexpr uint64_t ZigZagEncode64(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
constexpr int64_t ZigZagDecode64(uint64_t v) {
  return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
}
constexpr uint32_t ZigZagEncode32(int32_t v) {
  return (static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31);
}
constexpr int32_t ZigZagDecode32(uint32_t v) {
  return static_cast<int32_t>((v >> 1) ^ (~(v & 1) + 1));
}

// Writes `v` as a varint at `p` (room for kMaxVarint64Bytes), returns the end.
inline char* PutVarint64(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}
inline char* PutVarint32(char* p, uint32_t v) { return PutVarint64(p, v); }

// The wire type a column of `kind` is written with (§3.8.3).
constexpr WireType WireTypeOf(TypeKind kind) {
  switch (kind) {
    case TypeKind::kBigint:
    case TypeKind::kInt:
    case TypeKind::kSmallint:
    case TypeKind::kTinyint:
    case TypeKind::kBoolean:
    case TypeKind::kDate:
    case TypeKind::kDatetime:
      return kVarint;
    case TypeKind::kDouble:
      return kFixed64;
    case TypeKind::kFloat:
      return kFixed32;
    case TypeKind::kDecimal:
    case TypeKind::kString:
    case TypeKind::kVarchar:
    case TypeKind::kChar:
    case TypeKind::kBinary:
    case TypeKind::kJson:
    case TypeKind::kTimestamp:
      return kLengthDelimited;
  }
  return kLengthDelimited;
}

}  // namespace mcsink::maxcompute::wire
