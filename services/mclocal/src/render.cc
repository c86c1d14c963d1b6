#include "mclocal/render.h"

#include <charconv>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace mclocal {
namespace mc = mcsink::maxcompute;

namespace {

template <typename T>
std::string Shortest(T v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

std::string FormatUtc(int64_t seconds, const char* fmt) {
  return absl::FormatTime(fmt, absl::FromUnixSeconds(seconds), absl::UTCTimeZone());
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

std::string RenderValue(const mc::Value& value) {
  struct Visitor {
    std::string operator()(std::monostate) const { return "NULL"; }
    std::string operator()(int64_t v) const { return absl::StrCat(v); }
    std::string operator()(bool v) const { return v ? "true" : "false"; }
    std::string operator()(double v) const { return Shortest(v); }
    std::string operator()(float v) const { return Shortest(v); }
    std::string operator()(const std::string& v) const { return v; }
    std::string operator()(const mc::Date& d) const {
      return FormatUtc(d.days_since_epoch * 86400, "%Y-%m-%d");
    }
    std::string operator()(const mc::Datetime& d) const {
      const int64_t s = FloorDiv(d.epoch_millis, 1000);
      const int64_t ms = d.epoch_millis - s * 1000;
      std::string out = FormatUtc(s, "%Y-%m-%d %H:%M:%S");
      if (ms != 0) absl::StrAppend(&out, absl::StrFormat(".%03d", ms));
      return out;
    }
    std::string operator()(const mc::Timestamp& t) const {
      std::string out = FormatUtc(t.epoch_seconds, "%Y-%m-%d %H:%M:%S");
      if (t.nanos != 0) {
        std::string frac = absl::StrFormat("%09d", t.nanos);
        while (frac.back() == '0') frac.pop_back();
        absl::StrAppend(&out, ".", frac);
      }
      return out;
    }
  };
  return std::visit(Visitor{}, value);
}

std::string ToCsv(const std::vector<std::string>& names,
                  const std::vector<std::vector<std::optional<std::string>>>& rows,
                  const std::vector<bool>& quoted) {
  auto quote = [](std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
    return out;
  };
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    out += quote(names[i]);
  }
  out += '\n';
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      if (i) out += ',';
      if (!row[i]) {
        out += "\\N";
      } else if (i < quoted.size() && quoted[i]) {
        out += quote(*row[i]);
      } else {
        out += *row[i];
      }
    }
    out += '\n';
  }
  return out;
}

absl::Status ParseCsv(std::string_view csv, std::vector<std::string>* names,
                      std::vector<std::vector<std::optional<std::string>>>* rows) {
  std::vector<std::vector<std::optional<std::string>>> lines;
  std::vector<std::optional<std::string>> line;
  size_t i = 0;
  while (i < csv.size()) {
    std::optional<std::string> field;
    if (csv[i] == '"') {
      std::string v;
      ++i;
      while (true) {
        if (i >= csv.size()) return absl::DataLossError("unterminated quoted CSV field");
        if (csv[i] == '"') {
          if (i + 1 < csv.size() && csv[i + 1] == '"') {
            v += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        v += csv[i++];
      }
      field = std::move(v);
    } else {
      const size_t end = csv.find_first_of(",\n", i);
      std::string v(
          csv.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i));
      i = end == std::string_view::npos ? csv.size() : end;
      if (v != "\\N") field = std::move(v);
    }
    line.push_back(std::move(field));
    if (i < csv.size() && csv[i] == ',') {
      ++i;
      continue;
    }
    if (i < csv.size() && csv[i] == '\n') ++i;
    lines.push_back(std::move(line));
    line.clear();
  }
  if (lines.empty()) return absl::DataLossError("empty CSV result");
  names->clear();
  for (auto& f : lines[0]) names->push_back(f.value_or(""));
  rows->assign(std::make_move_iterator(lines.begin() + 1), std::make_move_iterator(lines.end()));
  return absl::OkStatus();
}

std::string RenderConsoleTable(const std::vector<std::string>& names,
                               const std::vector<std::string>& types,
                               const std::vector<std::vector<std::optional<std::string>>>& rows) {
  constexpr size_t kMinNumeric = 10;
  constexpr size_t kMax = 20;
  std::vector<size_t> width(names.size());
  for (size_t c = 0; c < names.size(); ++c) {
    size_t w = names[c].size();
    for (const auto& row : rows) {
      if (c < row.size()) w = std::max(w, row[c] ? row[c]->size() : size_t{4});
    }
    const std::string type = c < types.size() ? absl::AsciiStrToUpper(types[c]) : "";
    const bool numeric = absl::StartsWith(type, "BIGINT") || absl::StartsWith(type, "INT") ||
                         absl::StartsWith(type, "SMALLINT") || absl::StartsWith(type, "TINYINT") ||
                         absl::StartsWith(type, "DOUBLE") || absl::StartsWith(type, "FLOAT") ||
                         absl::StartsWith(type, "DECIMAL");
    if (numeric) w = std::max(w, kMinNumeric);
    width[c] = std::min(w, kMax);
  }
  std::string rule = "+";
  for (size_t w : width) absl::StrAppend(&rule, std::string(w + 2, '-'), "+");
  rule += '\n';
  auto line = [&](const std::vector<std::optional<std::string>>& cells) {
    std::string out = "|";
    for (size_t c = 0; c < width.size(); ++c) {
      const std::string text = c < cells.size() && cells[c] ? *cells[c] : "NULL";
      // Padding after the text shrinks (to nothing) when the text is wider than the column.
      const size_t cell = width[c] + 1;
      std::string padded = " " + text;
      if (text.size() < cell) padded += std::string(cell - text.size(), ' ');
      absl::StrAppend(&out, padded, "|");
    }
    return out + "\n";
  };
  std::vector<std::optional<std::string>> header(names.begin(), names.end());
  std::string out = rule + line(header) + rule;
  for (const auto& row : rows) out += line(row);
  out += rule;
  return out;
}

}  // namespace mclocal
