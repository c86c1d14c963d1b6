// The SQL subset mclocal runs (what the seed's walk-through and the SDKs' partition helpers send):
//
//   CREATE TABLE [IF NOT EXISTS] [p.]t (col TYPE [COMMENT '...'], ...) [COMMENT '...']
//       [PARTITIONED BY (key TYPE, ...)] [LIFECYCLE n];
//   DROP TABLE [IF EXISTS] [p.]t;
//   ALTER TABLE [p.]t ADD [IF NOT EXISTS] PARTITION (k='v', ...) [PARTITION (...)]...;
//   SHOW PARTITIONS [p.]t;
//   SELECT * | col, ... | COUNT(*) FROM [p.]t [WHERE col = 'v' [AND ...]] [LIMIT n];
//
// Keywords and names are case-insensitive (names are lower-cased); strings use '...' or "..."
// with backslash escapes; names may be `quoted`. Anything else fails with InvalidArgument whose
// message has the MaxCompute shape "ODPS-0130161:[line,col] Parse exception - ...".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "mcsink/maxcompute/types.h"

namespace mclocal::sql {

struct TableRef {
  std::string project;  // empty: the current project
  std::string table;
};

struct CreateTable {
  TableRef table;
  bool if_not_exists = false;
  mcsink::maxcompute::TableSchema schema;
  std::string comment;
  int64_t lifecycle = -1;
};

struct DropTable {
  TableRef table;
  bool if_exists = false;
};

struct AddPartition {
  TableRef table;
  bool if_not_exists = false;
  std::vector<std::vector<std::pair<std::string, std::string>>> partitions;
};

struct ShowPartitions {
  TableRef table;
};

struct Select {
  TableRef table;
  bool count_star = false;
  std::vector<std::string> columns;                        // empty with !count_star: SELECT *
  std::vector<std::pair<std::string, std::string>> where;  // col = 'value', ANDed
  std::optional<int64_t> limit;
};

using Statement = std::variant<CreateTable, DropTable, AddPartition, ShowPartitions, Select>;

absl::StatusOr<Statement> Parse(std::string_view text);

}  // namespace mclocal::sql
