// Typed cell values for decoded (and to-be-encoded) Tunnel records.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "mcsink/maxcompute/types.h"

namespace mcsink::maxcompute {

struct Date {
  int64_t days_since_epoch = 0;  // days since 1970-01-01
  friend bool operator==(const Date&, const Date&) = default;
};
struct Datetime {
  int64_t epoch_millis = 0;  // milliseconds since the Unix epoch, UTC
  friend bool operator==(const Datetime&, const Datetime&) = default;
};
struct Timestamp {
  int64_t epoch_seconds = 0;
  int32_t nanos = 0;  // 0..999999999, also for instants before 1970
  friend bool operator==(const Timestamp&, const Timestamp&) = default;
};

// One cell. Which alternative a column holds follows its type:
//   NULL                                  -> std::monostate (any column)
//   BIGINT, INT, SMALLINT, TINYINT        -> int64_t (in the column type's range)
//   BOOLEAN                               -> bool
//   DOUBLE                                -> double
//   FLOAT                                 -> float
//   STRING, VARCHAR, CHAR, BINARY, JSON   -> std::string (raw bytes)
//   DECIMAL                               -> std::string (plain decimal text, "12.50")
//   DATE / DATETIME / TIMESTAMP           -> Date / Datetime / Timestamp
// Note: operator== on a Value compares doubles with ==, so NaN != NaN and -0.0 == 0.0;
// use IdenticalValues for bit-exact comparison.
using Value = std::variant<std::monostate, int64_t, bool, double, float, std::string, Date,
                           Datetime, Timestamp>;

// One record: values in data-column order. A row shorter than the schema means trailing NULLs.
using Row = std::vector<Value>;

inline bool IsNull(const Value& v) { return std::holds_alternative<std::monostate>(v); }

// True when `a` and `b` hold the same alternative with bit-identical contents (NaN payloads and
// the sign of zero included).
bool IdenticalValues(const Value& a, const Value& b);
bool IdenticalRows(const Row& a, const Row& b);

// Whether `value` fits an integer column of `kind` (INT is 32-bit, SMALLINT 16, TINYINT 8).
bool IntegerFitsKind(TypeKind kind, int64_t value);
inline bool ValidNanos(int64_t nanos) { return nanos >= 0 && nanos <= 999'999'999; }

// OK when `value` may be stored in a column of `type`: NULL, or the alternative listed above
// and within range. The message names what is wrong but not the column; callers add that.
absl::Status CheckValueForType(const Type& type, const Value& value);

// A short human-readable form for messages and test output: NULL, 42, "text" (truncated),
// DATE(-1), DATETIME(ms), TIMESTAMP(s, ns).
std::string DebugString(const Value& value);

}  // namespace mcsink::maxcompute
