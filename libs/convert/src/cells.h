// Typed cells from text (CSV fields, JSON strings, TEXT payloads) and from JSON scalars: the one
// place where a string becomes a BIGINT, DECIMAL, DATETIME, ... of a MaxCompute column.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "mcsink/maxcompute/record_encoder.h"
#include "mcsink/maxcompute/types.h"

namespace simdjson::dom {
class parser;
}

namespace mcsink::convert::internal {

// Why a cell could not be written. The caller maps it to an ErrorCode for its format.
enum class CellFailure {
  kParse,        // the text is not a value of the type, or is out of its range
  kTooLong,      // more characters than VARCHAR(n)/CHAR(n)
  kTooLarge,     // above MaxCompute's per-cell limit
  kInvalidJson,  // text for a JSON column is not JSON
};

struct CellContext {
  absl::TimeZone zone;                              // for DATETIME/TIMESTAMP text without offset
  simdjson::dom::parser* json_validator = nullptr;  // checks text written to JSON columns
  std::string* scratch = nullptr;                   // canonical DECIMAL text
};

// Writes `text` as a value of `type` into `column`. The text of STRING, VARCHAR and CHAR cells
// must already be valid UTF-8 (the callers check whole payloads once). On failure writes
// nothing, sets *failure and *why (what is wrong with the value, without the column) and returns
// false.
bool WriteTextCell(const maxcompute::Type& type, int column, std::string_view text,
                   CellContext& ctx, maxcompute::RecordEncoder* encoder, CellFailure* failure,
                   std::string* why);

// `text` quoted and escaped for a message, cut to a readable length.
std::string QuoteForMessage(std::string_view text);

// The number of UTF-8 characters in valid UTF-8 `text`.
size_t Utf8Length(std::string_view text);

// Parses an integer of `kind`'s range (BIGINT, INT, SMALLINT, TINYINT).
bool ParseInteger(maxcompute::TypeKind kind, std::string_view text, int64_t* value,
                  std::string* why);
// The range of an integer kind, for messages: "INT (-2147483648..2147483647)".
std::string IntegerRangeText(maxcompute::TypeKind kind);

}  // namespace mcsink::convert::internal
