// Runs the SQL subset of sql.h against Storage, with MaxCompute's error codes in the messages
// (ODPS-0130161 parse errors, ODPS-0130131 table not found, ODPS-0110061 DDL conflicts,
// ODPS-0130071 semantic errors).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "mclocal/sql.h"
#include "mclocal/storage.h"

namespace mclocal {

// What a SQL task answers in `?result`.
struct SqlResult {
  std::string text;             // DDL: empty; SHOW PARTITIONS: one spec per line; SELECT: CSV
  std::string format = "text";  // "text" or "csv"
  std::vector<std::string> column_types;  // SELECT: the type of each CSV column
};

class SqlExecutor {
 public:
  // SELECT returns at most `max_result_rows` rows (COUNT(*) counts all).
  SqlExecutor(Storage* storage, int64_t max_result_rows)
      : storage_(storage), max_result_rows_(max_result_rows) {}

  // Runs one statement in `project` (the current project for unqualified table names). The
  // error message is what the task's result shows.
  absl::StatusOr<SqlResult> Run(const std::string& project, std::string_view query);

 private:
  absl::StatusOr<SqlResult> RunSelect(const std::string& project, const sql::Select& select);

  Storage* const storage_;
  const int64_t max_result_rows_;
};

}  // namespace mclocal
