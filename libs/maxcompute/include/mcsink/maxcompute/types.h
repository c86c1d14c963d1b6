// MaxCompute column types and table schemas, as the Tunnel and REST APIs describe them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace mcsink::maxcompute {

enum class TypeKind {
  kBigint,
  kInt,
  kSmallint,
  kTinyint,
  kBoolean,
  kFloat,
  kDouble,
  kDecimal,  // precision, scale
  kString,
  kVarchar,  // length
  kChar,     // length
  kBinary,
  kJson,
  kDate,
  kDatetime,
  kTimestamp,
};

struct Type {
  TypeKind kind = TypeKind::kString;
  int precision = 0;  // DECIMAL(p,s); 0 when not given (MaxCompute's default is 38,18)
  int scale = 0;
  int length = 0;  // VARCHAR(n) / CHAR(n)

  // The type as MaxCompute spells it: "BIGINT", "DECIMAL(10,2)", "VARCHAR(20)".
  std::string ToString() const;
  // Parses a MaxCompute type name, case-insensitively ("bigint", "decimal(10, 2)", "varchar(8)").
  static absl::StatusOr<Type> Parse(std::string_view text);

  friend bool operator==(const Type&, const Type&) = default;
};

struct Column {
  std::string name;
  Type type;
  bool nullable = true;
  friend bool operator==(const Column&, const Column&) = default;
};

struct TableSchema {
  std::vector<Column> columns;            // data columns, in Tunnel record order
  std::vector<Column> partition_columns;  // e.g. pt STRING

  // Index of the data column named `name` (case-insensitive, as MaxCompute names are), or nullopt.
  std::optional<int> ColumnIndex(std::string_view name) const;
  friend bool operator==(const TableSchema&, const TableSchema&) = default;
};

}  // namespace mcsink::maxcompute
