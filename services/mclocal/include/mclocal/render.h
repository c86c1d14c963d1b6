// Text forms of cell values and the console table that `mclocal sql` prints (the MaxCompute
// client's layout, as the seed's walk-through shows it).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "mcsink/maxcompute/types.h"
#include "mcsink/maxcompute/value.h"

namespace mclocal {

// NULL -> "NULL"; integers in decimal; BOOLEAN true/false; DOUBLE/FLOAT shortest round-trip
// text; DATE yyyy-mm-dd; DATETIME yyyy-mm-dd hh:mm:ss[.mmm] and TIMESTAMP with up to 9 fraction
// digits, both in UTC; text and binary as their bytes.
std::string RenderValue(const mcsink::maxcompute::Value& value);

// CSV as the SQL result of a SELECT: a header line of names, then one line per row; every text
// value quoted ("" doubles a quote), numbers bare, NULL as \N.
std::string ToCsv(const std::vector<std::string>& names,
                  const std::vector<std::vector<std::optional<std::string>>>& rows,
                  const std::vector<bool>& quoted);
// Parses ToCsv's output back: names and rows (nullopt = NULL).
absl::Status ParseCsv(std::string_view csv, std::vector<std::string>* names,
                      std::vector<std::vector<std::optional<std::string>>>* rows);

// The console table: +---+ rules, `| name |` header, one `| value |` line per row. A column is
// as wide as its longest header or value, at least 10 characters for numeric types and at most 20
// (longer values overflow their cell), plus one space of padding each side.
std::string RenderConsoleTable(const std::vector<std::string>& names,
                               const std::vector<std::string>& types,
                               const std::vector<std::vector<std::optional<std::string>>>& rows);

}  // namespace mclocal
