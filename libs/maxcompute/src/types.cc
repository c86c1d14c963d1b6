#include "mcsink/maxcompute/types.h"

#include <cctype>
#include <charconv>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace mcsink::maxcompute {
namespace {

// MaxCompute's documented bounds (SQL data types, "MaxCompute V2.0 data types").
constexpr int kMaxDecimalPrecision = 38;
constexpr int kMaxDecimalScale = 18;
constexpr int kMaxVarcharLength = 65535;
constexpr int kMaxCharLength = 255;

struct KindEntry {
  TypeKind kind;
  const char* name;
};

constexpr KindEntry kKindNames[] = {
    {TypeKind::kBigint, "BIGINT"},     {TypeKind::kInt, "INT"},
    {TypeKind::kSmallint, "SMALLINT"}, {TypeKind::kTinyint, "TINYINT"},
    {TypeKind::kBoolean, "BOOLEAN"},   {TypeKind::kFloat, "FLOAT"},
    {TypeKind::kDouble, "DOUBLE"},     {TypeKind::kDecimal, "DECIMAL"},
    {TypeKind::kString, "STRING"},     {TypeKind::kVarchar, "VARCHAR"},
    {TypeKind::kChar, "CHAR"},         {TypeKind::kBinary, "BINARY"},
    {TypeKind::kJson, "JSON"},         {TypeKind::kDate, "DATE"},
    {TypeKind::kDatetime, "DATETIME"}, {TypeKind::kTimestamp, "TIMESTAMP"},
};

const char* KindName(TypeKind kind) {
  for (const auto& k : kKindNames) {
    if (k.kind == kind) return k.name;
  }
  return "UNKNOWN";
}

absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Parses the comma-separated integers inside "(...)"; at most two.
absl::Status ParseParams(absl::string_view inside, absl::string_view whole, std::vector<int>* out) {
  size_t pos = 0;
  while (true) {
    size_t comma = inside.find(',', pos);
    absl::string_view part = absl::StripAsciiWhitespace(inside.substr(
        pos, comma == absl::string_view::npos ? absl::string_view::npos : comma - pos));
    int value = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "MaxCompute type '", whole, "' has a parameter that is not an integer: '", part, "'"));
    }
    out->push_back(value);
    if (comma == absl::string_view::npos) break;
    pos = comma + 1;
  }
  return absl::OkStatus();
}

}  // namespace

std::string Type::ToString() const {
  switch (kind) {
    case TypeKind::kDecimal:
      if (precision == 0) return "DECIMAL";
      return absl::StrCat("DECIMAL(", precision, ",", scale, ")");
    case TypeKind::kVarchar:
      return absl::StrCat("VARCHAR(", length, ")");
    case TypeKind::kChar:
      return absl::StrCat("CHAR(", length, ")");
    default:
      return KindName(kind);
  }
}

absl::StatusOr<Type> Type::Parse(std::string_view text) {
  const absl::string_view whole = absl::StripAsciiWhitespace(ToAbsl(text));
  absl::string_view name = whole;
  absl::string_view inside;
  bool has_params = false;
  if (size_t open = whole.find('('); open != absl::string_view::npos) {
    if (whole.back() != ')') {
      return absl::InvalidArgumentError(
          absl::StrCat("MaxCompute type '", whole, "' has an unclosed '('"));
    }
    name = absl::StripAsciiWhitespace(whole.substr(0, open));
    inside = whole.substr(open + 1, whole.size() - open - 2);
    has_params = true;
  }

  Type type;
  bool found = false;
  for (const auto& k : kKindNames) {
    if (absl::EqualsIgnoreCase(name, k.name)) {
      type.kind = k.kind;
      found = true;
      break;
    }
  }
  if (!found) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown or unsupported MaxCompute type '", whole,
        "' (supported: BIGINT, INT, SMALLINT, TINYINT, BOOLEAN, FLOAT, DOUBLE, DECIMAL(p,s), "
        "STRING, VARCHAR(n), CHAR(n), BINARY, JSON, DATE, DATETIME, TIMESTAMP)"));
  }

  std::vector<int> params;
  if (has_params) {
    if (absl::Status s = ParseParams(inside, whole, &params); !s.ok()) return s;
  }
  switch (type.kind) {
    case TypeKind::kDecimal:
      if (params.size() > 2) {
        return absl::InvalidArgumentError(
            absl::StrCat("MaxCompute type '", whole, "' takes at most (precision, scale)"));
      }
      if (!params.empty()) {
        type.precision = params[0];
        type.scale = params.size() == 2 ? params[1] : 0;
        if (type.precision < 1 || type.precision > kMaxDecimalPrecision || type.scale < 0 ||
            type.scale > kMaxDecimalScale || type.scale > type.precision) {
          return absl::InvalidArgumentError(absl::StrCat(
              "MaxCompute type '", whole, "': DECIMAL precision must be 1..", kMaxDecimalPrecision,
              " and scale 0..", kMaxDecimalScale, " and not above precision"));
        }
      }
      break;
    case TypeKind::kVarchar:
    case TypeKind::kChar: {
      const int max = type.kind == TypeKind::kVarchar ? kMaxVarcharLength : kMaxCharLength;
      if (params.size() != 1) {
        return absl::InvalidArgumentError(absl::StrCat("MaxCompute type '", whole,
                                                       "' needs exactly one length, e.g. ",
                                                       KindName(type.kind), "(10)"));
      }
      if (params[0] < 1 || params[0] > max) {
        return absl::InvalidArgumentError(
            absl::StrCat("MaxCompute type '", whole, "': length must be 1..", max));
      }
      type.length = params[0];
      break;
    }
    default:
      if (has_params) {
        return absl::InvalidArgumentError(
            absl::StrCat("MaxCompute type '", whole, "' takes no parameters"));
      }
      break;
  }
  return type;
}

std::optional<int> TableSchema::ColumnIndex(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (absl::EqualsIgnoreCase(columns[i].name, ToAbsl(name))) return static_cast<int>(i);
  }
  return std::nullopt;
}

}  // namespace mcsink::maxcompute
