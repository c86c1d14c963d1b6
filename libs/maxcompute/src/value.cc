#include "mcsink/maxcompute/value.h"

#include <cstring>
#include <limits>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace mcsink::maxcompute {
namespace {

template <typename T>
bool SameBits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// Which Value alternative (index) a non-null value of `kind` holds.
size_t AlternativeFor(TypeKind kind) {
  switch (kind) {
    case TypeKind::kBigint:
    case TypeKind::kInt:
    case TypeKind::kSmallint:
    case TypeKind::kTinyint:
      return 1;
    case TypeKind::kBoolean:
      return 2;
    case TypeKind::kDouble:
      return 3;
    case TypeKind::kFloat:
      return 4;
    case TypeKind::kDecimal:
    case TypeKind::kString:
    case TypeKind::kVarchar:
    case TypeKind::kChar:
    case TypeKind::kBinary:
    case TypeKind::kJson:
      return 5;
    case TypeKind::kDate:
      return 6;
    case TypeKind::kDatetime:
      return 7;
    case TypeKind::kTimestamp:
      return 8;
  }
  return 0;
}

const char* AlternativeName(size_t index) {
  static constexpr const char* kNames[] = {"NULL",   "integer", "bool",     "double",   "float",
                                           "string", "Date",    "Datetime", "Timestamp"};
  return index < std::size(kNames) ? kNames[index] : "?";
}

}  // namespace

bool IdenticalValues(const Value& a, const Value& b) {
  if (a.index() != b.index()) return false;
  if (const double* d = std::get_if<double>(&a)) return SameBits(*d, std::get<double>(b));
  if (const float* f = std::get_if<float>(&a)) return SameBits(*f, std::get<float>(b));
  return a == b;
}

bool IdenticalRows(const Row& a, const Row& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!IdenticalValues(a[i], b[i])) return false;
  }
  return true;
}

bool IntegerFitsKind(TypeKind kind, int64_t value) {
  switch (kind) {
    case TypeKind::kInt:
      return value >= std::numeric_limits<int32_t>::min() &&
             value <= std::numeric_limits<int32_t>::max();
    case TypeKind::kSmallint:
      return value >= std::numeric_limits<int16_t>::min() &&
             value <= std::numeric_limits<int16_t>::max();
    case TypeKind::kTinyint:
      return value >= std::numeric_limits<int8_t>::min() &&
             value <= std::numeric_limits<int8_t>::max();
    default:
      return true;
  }
}

absl::Status CheckValueForType(const Type& type, const Value& value) {
  if (IsNull(value)) return absl::OkStatus();
  const size_t want = AlternativeFor(type.kind);
  if (value.index() != want) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a ", type.ToString(), " column needs a ", AlternativeName(want), " value, got a ",
        AlternativeName(value.index()), " value ", DebugString(value)));
  }
  if (const int64_t* i = std::get_if<int64_t>(&value); i && !IntegerFitsKind(type.kind, *i)) {
    return absl::InvalidArgumentError(
        absl::StrCat("value ", *i, " is out of range for ", type.ToString()));
  }
  if (const Timestamp* ts = std::get_if<Timestamp>(&value); ts && !ValidNanos(ts->nanos)) {
    return absl::InvalidArgumentError(
        absl::StrCat("TIMESTAMP nanos ", ts->nanos, " is outside 0..999999999"));
  }
  return absl::OkStatus();
}

std::string DebugString(const Value& value) {
  constexpr size_t kMaxShown = 64;
  struct Visitor {
    std::string operator()(std::monostate) const { return "NULL"; }
    std::string operator()(int64_t v) const { return absl::StrCat(v); }
    std::string operator()(bool v) const { return v ? "true" : "false"; }
    std::string operator()(double v) const { return absl::StrCat(v); }
    std::string operator()(float v) const { return absl::StrCat(v, "f"); }
    std::string operator()(const std::string& v) const {
      if (v.size() <= kMaxShown) return absl::StrCat("\"", absl::CHexEscape(v), "\"");
      return absl::StrCat("\"", absl::CHexEscape(v.substr(0, kMaxShown)), "\"... (", v.size(),
                          " bytes)");
    }
    std::string operator()(Date v) const { return absl::StrCat("DATE(", v.days_since_epoch, ")"); }
    std::string operator()(Datetime v) const {
      return absl::StrCat("DATETIME(", v.epoch_millis, "ms)");
    }
    std::string operator()(Timestamp v) const {
      return absl::StrCat("TIMESTAMP(", v.epoch_seconds, "s, ", v.nanos, "ns)");
    }
  };
  return std::visit(Visitor{}, value);
}

}  // namespace mcsink::maxcompute
