#include "mcsink/convert/partition_value.h"

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"

namespace mcsink::convert {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

absl::Status BadZone(std::string_view spec, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "time zone \"", std::string(spec), "\" ", std::string(why),
      "; use GMT+hh:mm, GMT-hh:mm (e.g. GMT+08:00, the default) or an IANA name such as "
      "Asia/Shanghai"));
}

// Appends `v` as at least `width` zero-padded digits (v >= 0).
void AppendPadded(std::string* out, int64_t v, int width) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0);
  for (int i = n; i < width; ++i) out->push_back('0');
  while (n > 0) out->push_back(buf[--n]);
}

void AppendYear(std::string* out, int64_t year) {
  // Years outside 0..9999 cannot come from a Kafka timestamp in practice, but keep them exact.
  if (year < 0) {
    out->push_back('-');
    year = -year;
  }
  AppendPadded(out, year, 4);
}

}  // namespace

absl::StatusOr<absl::TimeZone> ParseTimeZone(std::string_view spec) {
  if (spec.empty()) return BadZone(spec, "is empty");
  if (spec == "GMT" || spec == "UTC" || spec == "Z") return absl::UTCTimeZone();
  if (spec.size() > 3 && (spec.substr(0, 3) == "GMT" || spec.substr(0, 3) == "UTC")) {
    std::string_view rest = spec.substr(3);
    int sign;
    // The console shows "GMT 08:00": a '+' that became a space.
    if (rest[0] == '+' || rest[0] == ' ') {
      sign = 1;
    } else if (rest[0] == '-') {
      sign = -1;
    } else {
      return BadZone(spec, "has no sign after GMT");
    }
    rest = rest.substr(1);
    int hours = 0, minutes = 0;
    if (rest.size() == 5 && IsDigit(rest[0]) && IsDigit(rest[1]) && rest[2] == ':' &&
        IsDigit(rest[3]) && IsDigit(rest[4])) {
      hours = (rest[0] - '0') * 10 + (rest[1] - '0');
      minutes = (rest[3] - '0') * 10 + (rest[4] - '0');
    } else if ((rest.size() == 1 || rest.size() == 2) && IsDigit(rest[0]) && IsDigit(rest.back())) {
      hours = rest.size() == 1 ? rest[0] - '0' : (rest[0] - '0') * 10 + (rest[1] - '0');
    } else {
      return BadZone(spec, "is not GMT±hh:mm");
    }
    if (hours > 14 || minutes > 59 || (hours == 14 && minutes > 0)) {
      return BadZone(spec, "is outside GMT-14:00..GMT+14:00");
    }
    return absl::FixedTimeZone(sign * (hours * 3600 + minutes * 60));
  }
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(std::string(spec), &zone)) {
    return BadZone(spec,
                   "is not a fixed offset nor a time zone in the system's zoneinfo (is the "
                   "tzdata package installed?)");
  }
  return zone;
}

std::string_view PartitionValueFormatter::Format(absl::Time t) {
  if (t >= window_start_ && t < window_end_) return value_;
  absl::CivilSecond cs = absl::ToCivilSecond(t, zone_);
  absl::CivilSecond start;
  absl::CivilSecond next;
  switch (granularity_) {
    case Granularity::kDay:
      start = absl::CivilDay(cs);
      next = absl::CivilDay(cs) + 1;
      break;
    case Granularity::kHour:
      start = absl::CivilHour(cs);
      next = absl::CivilHour(cs) + 1;
      break;
    case Granularity::kMinute:
      start = absl::CivilMinute(cs);
      next = absl::CivilMinute(cs) + 1;
      break;
  }
  // The window in absolute time. Around a daylight-saving change the civil window may be longer
  // or shorter than nominal (a repeated hour holds two hours of instants); `t` is in it either
  // way, and the check above only reuses the value for instants with the same civil window.
  window_start_ = absl::FromCivil(start, zone_);
  window_end_ = absl::FromCivil(next, zone_);
  if (!(t >= window_start_ && t < window_end_)) {
    // Should not happen; never cache a window that does not contain `t`.
    window_start_ = absl::InfiniteFuture();
    window_end_ = absl::InfinitePast();
  }

  value_.clear();
  if (format_ == PtFormat::kLegacy) {
    AppendPadded(&value_, cs.month(), 2);
    value_.push_back('-');
    AppendPadded(&value_, cs.day(), 2);
    value_.push_back('-');
    AppendYear(&value_, cs.year());
  } else {
    AppendYear(&value_, cs.year());
    value_.push_back('-');
    AppendPadded(&value_, cs.month(), 2);
    value_.push_back('-');
    AppendPadded(&value_, cs.day(), 2);
  }
  if (granularity_ != Granularity::kDay) {
    value_.push_back(' ');
    AppendPadded(&value_, cs.hour(), 2);
    if (granularity_ == Granularity::kMinute) {
      value_.push_back(':');
      AppendPadded(&value_, cs.minute(), 2);
    }
  }
  return value_;
}

}  // namespace mcsink::convert
