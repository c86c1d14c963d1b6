#include "cells.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "mcsink/maxcompute/value.h"
#include "mcsink/maxcompute/wire_format.h"
#include "simdjson.h"

namespace mcsink::convert::internal {
namespace {

using maxcompute::Type;
using maxcompute::TypeKind;

constexpr size_t kMessageValueBytes = 64;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != b[i]) return false;
  }
  return true;
}

// Reads `count` digits at s[*pos] into *out.
bool ReadDigits(std::string_view s, size_t* pos, int count, int* out) {
  if (*pos + static_cast<size_t>(count) > s.size()) return false;
  int v = 0;
  for (int i = 0; i < count; ++i) {
    const char c = s[*pos + static_cast<size_t>(i)];
    if (!IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  *pos += static_cast<size_t>(count);
  *out = v;
  return true;
}

bool ReadChar(std::string_view s, size_t* pos, char c) {
  if (*pos >= s.size() || s[*pos] != c) return false;
  ++*pos;
  return true;
}

// yyyy-MM-dd, checked to be a real day in 0001..9999.
bool ParseDay(std::string_view s, size_t* pos, absl::CivilDay* day) {
  int y, m, d;
  if (!ReadDigits(s, pos, 4, &y) || !ReadChar(s, pos, '-') || !ReadDigits(s, pos, 2, &m) ||
      !ReadChar(s, pos, '-') || !ReadDigits(s, pos, 2, &d)) {
    return false;
  }
  if (y < 1) return false;
  const absl::CivilDay cd(y, m, d);
  // CivilDay normalizes (Feb 30 -> Mar 2): a changed field means the date does not exist.
  if (cd.year() != y || cd.month() != m || cd.day() != d) return false;
  *day = cd;
  return true;
}

// yyyy-MM-dd HH:mm:ss[.f...] ('T' accepted for the space), up to `max_fraction` digits.
bool ParseDateTime(std::string_view s, int max_fraction, absl::CivilSecond* cs, int32_t* nanos) {
  size_t pos = 0;
  absl::CivilDay day;
  if (!ParseDay(s, &pos, &day)) return false;
  if (pos >= s.size() || (s[pos] != ' ' && s[pos] != 'T')) return false;
  ++pos;
  int h, mi, se;
  if (!ReadDigits(s, &pos, 2, &h) || !ReadChar(s, &pos, ':') || !ReadDigits(s, &pos, 2, &mi) ||
      !ReadChar(s, &pos, ':') || !ReadDigits(s, &pos, 2, &se)) {
    return false;
  }
  if (h > 23 || mi > 59 || se > 59) return false;
  int32_t frac = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && IsDigit(s[pos])) {
      if (++digits > max_fraction) return false;
      frac = frac * 10 + (s[pos] - '0');
      ++pos;
    }
    if (digits == 0) return false;
    for (int i = digits; i < 9; ++i) frac *= 10;
  }
  if (pos != s.size()) return false;
  *cs = absl::CivilSecond(day.year(), day.month(), day.day(), h, mi, se);
  *nanos = frac;
  return true;
}

// Canonical decimal text of `s` for DECIMAL(precision, scale) into *out: no '+', no leading
// zeros, trailing fraction zeros beyond the scale dropped. Fails on syntax (no exponents: a
// DECIMAL is exact text), too many integer digits, or significant digits beyond the scale.
bool CanonicalDecimal(std::string_view s, int precision, int scale, std::string* out,
                      std::string* why) {
  if (precision == 0) {  // DECIMAL without arguments: MaxCompute's DECIMAL(38,18)
    precision = 38;
    scale = 18;
  }
  size_t pos = 0;
  bool negative = false;
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) negative = s[pos++] == '-';
  const size_t int_begin = pos;
  while (pos < s.size() && IsDigit(s[pos])) ++pos;
  std::string_view int_digits = s.substr(int_begin, pos - int_begin);
  std::string_view frac_digits;
  if (pos < s.size() && s[pos] == '.') {
    const size_t frac_begin = ++pos;
    while (pos < s.size() && IsDigit(s[pos])) ++pos;
    frac_digits = s.substr(frac_begin, pos - frac_begin);
  }
  if (pos != s.size() || (int_digits.empty() && frac_digits.empty())) {
    *why = absl::StrCat(QuoteForMessage(s),
                        " is not a decimal number (digits with an optional "
                        "sign and point, no exponent)");
    return false;
  }
  while (!int_digits.empty() && int_digits.front() == '0') int_digits.remove_prefix(1);
  while (frac_digits.size() > static_cast<size_t>(scale) && frac_digits.back() == '0') {
    frac_digits.remove_suffix(1);
  }
  const std::string type = absl::StrCat("DECIMAL(", precision, ",", scale, ")");
  if (int_digits.size() > static_cast<size_t>(precision - scale)) {
    *why = absl::StrCat(QuoteForMessage(s), " has ", int_digits.size(),
                        " digits before the point but ", type, " holds ", precision - scale);
    return false;
  }
  if (frac_digits.size() > static_cast<size_t>(scale)) {
    *why = absl::StrCat(QuoteForMessage(s), " has ", frac_digits.size(),
                        " digits after the point but ", type, " keeps ", scale,
                        "; round it in the producer");
    return false;
  }
  const bool zero = int_digits.find_first_not_of('0') == std::string_view::npos &&
                    frac_digits.find_first_not_of('0') == std::string_view::npos;
  out->clear();
  if (negative && !zero) out->push_back('-');
  if (int_digits.empty()) {
    out->push_back('0');
  } else {
    out->append(int_digits.data(), int_digits.size());
  }
  if (!frac_digits.empty()) {
    out->push_back('.');
    out->append(frac_digits.data(), frac_digits.size());
  }
  return true;
}

// DOUBLE and FLOAT text: decimal or scientific notation, and nan / inf / infinity in any case
// with an optional sign (Java's Double.parseDouble spellings NaN and Infinity included).
template <typename T>
bool ParseFloating(std::string_view s, T* out) {
  std::string_view body = s;
  bool negative = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (EqualsIgnoreCase(body, "nan")) {
    *out = std::numeric_limits<T>::quiet_NaN();
    return true;
  }
  if (EqualsIgnoreCase(body, "inf") || EqualsIgnoreCase(body, "infinity")) {
    *out = negative ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
    return true;
  }
  if (body.empty() || !(IsDigit(body[0]) || body[0] == '.')) return false;
  T v;
  const auto [end, ec] =
      std::from_chars(body.data(), body.data() + body.size(), v, std::chars_format::general);
  if (ec != std::errc() || end != body.data() + body.size()) return false;
  *out = negative ? -v : v;
  return true;
}

bool ParseBoolean(std::string_view s, bool* out) {
  if (EqualsIgnoreCase(s, "true") || s == "1") {
    *out = true;
    return true;
  }
  if (EqualsIgnoreCase(s, "false") || s == "0") {
    *out = false;
    return true;
  }
  return false;
}

bool Fail(CellFailure kind, std::string message, CellFailure* failure, std::string* why) {
  *failure = kind;
  *why = std::move(message);
  return false;
}

}  // namespace

std::string QuoteForMessage(std::string_view text) {
  const bool cut = text.size() > kMessageValueBytes;
  const std::string_view shown = cut ? text.substr(0, kMessageValueBytes) : text;
  return absl::StrCat("\"", absl::CHexEscape(absl::string_view(shown.data(), shown.size())),
                      cut ? "\"... (" : "\"", cut ? absl::StrCat(text.size(), " bytes)") : "");
}

size_t Utf8Length(std::string_view text) {
  size_t n = 0;
  for (const char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

std::string IntegerRangeText(TypeKind kind) {
  switch (kind) {
    case TypeKind::kInt:
      return "INT (-2147483648..2147483647)";
    case TypeKind::kSmallint:
      return "SMALLINT (-32768..32767)";
    case TypeKind::kTinyint:
      return "TINYINT (-128..127)";
    default:
      return "BIGINT (-9223372036854775808..9223372036854775807)";
  }
}

bool ParseInteger(TypeKind kind, std::string_view text, int64_t* value, std::string* why) {
  std::string_view digits = text;
  // from_chars takes no '+'; a leading '+' is common enough in exported data to accept.
  const bool plus = !digits.empty() && digits[0] == '+';
  if (plus) digits.remove_prefix(1);
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (digits.empty() || (plus && digits[0] == '-') || end != digits.data() + digits.size() ||
      (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    *why = absl::StrCat(QuoteForMessage(text), text.empty() ? " (empty) " : " ",
                        "is not an integer", text.empty() ? "; write \\N for NULL" : "");
    return false;
  }
  if (ec == std::errc::result_out_of_range || !maxcompute::IntegerFitsKind(kind, v)) {
    *why = absl::StrCat(QuoteForMessage(text), " is out of range for ", IntegerRangeText(kind));
    return false;
  }
  *value = v;
  return true;
}

bool WriteTextCell(const Type& type, int column, std::string_view text, CellContext& ctx,
                   maxcompute::RecordEncoder* encoder, CellFailure* failure, std::string* why) {
  switch (type.kind) {
    case TypeKind::kString:
    case TypeKind::kBinary:
      if (static_cast<int64_t>(text.size()) > maxcompute::wire::kMaxCellBytes) {
        return Fail(CellFailure::kTooLarge,
                    absl::StrCat("the value has ", text.size(),
                                 " bytes, above MaxCompute's per-cell limit of ",
                                 maxcompute::wire::kMaxCellBytes),
                    failure, why);
      }
      encoder->WriteBytes(column, text);
      return true;
    case TypeKind::kVarchar:
    case TypeKind::kChar: {
      const size_t length = Utf8Length(text);
      if (type.length > 0 && length > static_cast<size_t>(type.length)) {
        return Fail(CellFailure::kTooLong,
                    absl::StrCat(QuoteForMessage(text), " has ", length, " characters but ",
                                 type.ToString(), " holds ", type.length),
                    failure, why);
      }
      encoder->WriteBytes(column, text);
      return true;
    }
    case TypeKind::kJson: {
      if (static_cast<int64_t>(text.size()) > maxcompute::wire::kMaxCellBytes) {
        return Fail(CellFailure::kTooLarge,
                    absl::StrCat("the value has ", text.size(),
                                 " bytes, above MaxCompute's per-cell limit of ",
                                 maxcompute::wire::kMaxCellBytes),
                    failure, why);
      }
      // parse() copies into its own padded buffer when the input is not padded.
      auto doc = ctx.json_validator->parse(text.data(), text.size(), true);
      if (doc.error() != simdjson::SUCCESS) {
        return Fail(CellFailure::kInvalidJson,
                    absl::StrCat(QuoteForMessage(text), " is not valid JSON (",
                                 simdjson::error_message(doc.error()), ")"),
                    failure, why);
      }
      encoder->WriteBytes(column, text);
      return true;
    }
    case TypeKind::kBigint:
    case TypeKind::kInt:
    case TypeKind::kSmallint:
    case TypeKind::kTinyint: {
      int64_t v;
      if (!ParseInteger(type.kind, text, &v, why)) {
        *failure = CellFailure::kParse;
        return false;
      }
      encoder->WriteInteger(column, v);
      return true;
    }
    case TypeKind::kBoolean: {
      bool v;
      if (!ParseBoolean(text, &v)) {
        return Fail(CellFailure::kParse,
                    absl::StrCat(QuoteForMessage(text), " is not a BOOLEAN (true, false, 1, 0)"),
                    failure, why);
      }
      encoder->WriteBoolean(column, v);
      return true;
    }
    case TypeKind::kDouble: {
      double v;
      if (!ParseFloating(text, &v)) {
        return Fail(CellFailure::kParse,
                    absl::StrCat(QuoteForMessage(text),
                                 " is not a DOUBLE (e.g. 1.5, -2e10, nan, inf) or is out of range"),
                    failure, why);
      }
      encoder->WriteDouble(column, v);
      return true;
    }
    case TypeKind::kFloat: {
      float v;
      if (!ParseFloating(text, &v)) {
        return Fail(CellFailure::kParse,
                    absl::StrCat(QuoteForMessage(text),
                                 " is not a FLOAT (e.g. 1.5, -2e10, nan, inf) or is out of range"),
                    failure, why);
      }
      encoder->WriteFloat(column, v);
      return true;
    }
    case TypeKind::kDecimal: {
      if (!CanonicalDecimal(text, type.precision, type.scale, ctx.scratch, why)) {
        *failure = CellFailure::kParse;
        return false;
      }
      encoder->WriteBytes(column, *ctx.scratch);
      return true;
    }
    case TypeKind::kDate: {
      size_t pos = 0;
      absl::CivilDay day;
      if (!ParseDay(text, &pos, &day) || pos != text.size()) {
        return Fail(CellFailure::kParse,
                    absl::StrCat(QuoteForMessage(text),
                                 " is not a DATE (yyyy-MM-dd, a real day in 0001..9999)"),
                    failure, why);
      }
      encoder->WriteDate(column, day - absl::CivilDay(1970, 1, 1));
      return true;
    }
    case TypeKind::kDatetime: {
      absl::CivilSecond cs;
      int32_t nanos;
      if (!ParseDateTime(text, 3, &cs, &nanos)) {
        return Fail(CellFailure::kParse,
                    absl::StrCat(QuoteForMessage(text),
                                 " is not a DATETIME (yyyy-MM-dd HH:mm:ss with up to 3 fraction "
                                 "digits)"),
                    failure, why);
      }
      const int64_t seconds = absl::ToUnixSeconds(absl::FromCivil(cs, ctx.zone));
      encoder->WriteDatetime(column, seconds * 1000 + nanos / 1'000'000);
      return true;
    }
    case TypeKind::kTimestamp: {
      absl::CivilSecond cs;
      int32_t nanos;
      if (!ParseDateTime(text, 9, &cs, &nanos)) {
        return Fail(CellFailure::kParse,
                    absl::StrCat(QuoteForMessage(text),
                                 " is not a TIMESTAMP (yyyy-MM-dd HH:mm:ss with up to 9 fraction "
                                 "digits)"),
                    failure, why);
      }
      encoder->WriteTimestamp(column, absl::ToUnixSeconds(absl::FromCivil(cs, ctx.zone)), nanos);
      return true;
    }
  }
  return Fail(CellFailure::kParse, "unsupported column type", failure, why);
}

}  // namespace mcsink::convert::internal
