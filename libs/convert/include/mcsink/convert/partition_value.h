// The partition value `pt`: a point in time, cut to a DAY, HOUR or MINUTE window in a time zone
// and written in the Alibaba connector's legacy format (`11-17-2020 15`) or the ISO-like one
// (`2020-11-17 15`). reference-connectors.md (b), "Partition value (exact)".
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mcsink::convert {

enum class Granularity { kDay, kHour, kMinute };

enum class PtFormat {
  kLegacy,  // MM-dd-yyyy, MM-dd-yyyy HH, MM-dd-yyyy HH:mm (the seed's and the default)
  kIso,     // yyyy-MM-dd, yyyy-MM-dd HH, yyyy-MM-dd HH:mm (use_new_partition_format=true)
};

// Parses a time zone as the connector config spells it: "GMT+08:00", "GMT-03:30", "GMT" or
// "UTC" (fixed offsets, hh 00..14 and mm 00..59; "GMT 08:00" as the console shows it, with a
// space for the plus, is accepted too), or an IANA name such as "Asia/Shanghai" (read from the
// system's zoneinfo, so daylight saving follows the zone). InvalidArgument names the input.
absl::StatusOr<absl::TimeZone> ParseTimeZone(std::string_view spec);

// Formats `pt` values. Consecutive calls with times in the same window reuse the last result, so
// formatting costs a comparison per record on the hot path.
class PartitionValueFormatter {
 public:
  PartitionValueFormatter(Granularity granularity, PtFormat format, absl::TimeZone zone)
      : granularity_(granularity), format_(format), zone_(zone) {}

  // The pt of `t`. The view stays valid until the next call.
  std::string_view Format(absl::Time t);

 private:
  Granularity granularity_;
  PtFormat format_;
  absl::TimeZone zone_;
  // The window [start, end) of the last formatted time and its value.
  absl::Time window_start_ = absl::InfiniteFuture();
  absl::Time window_end_ = absl::InfinitePast();
  std::string value_;
};

}  // namespace mcsink::convert
