#include "mcsink/convert/partition_value.h"

#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink::convert {
namespace {

// An instant given in UTC, so every expected pt below is worked out by hand from the offset.
absl::Time Utc(int y, int mo, int d, int h, int mi, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

std::string Pt(std::string_view zone, Granularity g, PtFormat f, absl::Time t) {
  auto tz = ParseTimeZone(zone);
  EXPECT_TRUE(tz.ok()) << tz.status();
  PartitionValueFormatter formatter(g, f, tz.value_or(absl::UTCTimeZone()));
  return std::string(formatter.Format(t));
}

int OffsetSeconds(const absl::TimeZone& tz, absl::Time t = absl::UnixEpoch()) {
  return tz.At(t).offset;
}

TEST(ParseTimeZone, AcceptsGmtOffsetsAndIanaNames) {
  ASSERT_OK_AND_ASSIGN(absl::TimeZone east, ParseTimeZone("GMT+08:00"));
  EXPECT_EQ(OffsetSeconds(east), 8 * 3600);
  ASSERT_OK_AND_ASSIGN(absl::TimeZone west, ParseTimeZone("GMT-03:30"));
  EXPECT_EQ(OffsetSeconds(west), -(3 * 3600 + 30 * 60));
  ASSERT_OK_AND_ASSIGN(absl::TimeZone console, ParseTimeZone("GMT 08:00"));
  EXPECT_EQ(OffsetSeconds(console), 8 * 3600);
  ASSERT_OK_AND_ASSIGN(absl::TimeZone short_form, ParseTimeZone("GMT+8"));
  EXPECT_EQ(OffsetSeconds(short_form), 8 * 3600);
  ASSERT_OK_AND_ASSIGN(absl::TimeZone utc, ParseTimeZone("UTC"));
  EXPECT_EQ(OffsetSeconds(utc), 0);
  ASSERT_OK_AND_ASSIGN(absl::TimeZone shanghai, ParseTimeZone("Asia/Shanghai"));
  EXPECT_EQ(OffsetSeconds(shanghai, Utc(2020, 11, 17, 7, 0)), 8 * 3600);
}

TEST(ParseTimeZone, RejectsMalformedAndUnknownZonesNamingThem) {
  for (const char* bad : {"", "GMT+15:00", "GMT+08:60", "GMT+8:0", "GMT*08:00", "Mars/Olympus"}) {
    auto tz = ParseTimeZone(bad);
    ASSERT_FALSE(tz.ok()) << bad;
    EXPECT_EQ(tz.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(tz.status().message().find(std::string("\"") + bad + "\""), absl::string_view::npos)
        << tz.status();
  }
}

TEST(PartitionValue, SeedExampleHourInLegacyFormat) {
  // 07:30 UTC is 15:30 at GMT+08:00: the seed's `11-17-2020 15`.
  EXPECT_EQ(Pt("GMT+08:00", Granularity::kHour, PtFormat::kLegacy, Utc(2020, 11, 17, 7, 30)),
            "11-17-2020 15");
}

TEST(PartitionValue, EachGranularityAndFormat) {
  const absl::Time t = Utc(2020, 11, 17, 7, 4, 59);  // 15:04:59 at +08:00
  EXPECT_EQ(Pt("GMT+08:00", Granularity::kDay, PtFormat::kLegacy, t), "11-17-2020");
  EXPECT_EQ(Pt("GMT+08:00", Granularity::kHour, PtFormat::kLegacy, t), "11-17-2020 15");
  EXPECT_EQ(Pt("GMT+08:00", Granularity::kMinute, PtFormat::kLegacy, t), "11-17-2020 15:04");
  EXPECT_EQ(Pt("GMT+08:00", Granularity::kDay, PtFormat::kIso, t), "2020-11-17");
  EXPECT_EQ(Pt("GMT+08:00", Granularity::kHour, PtFormat::kIso, t), "2020-11-17 15");
  EXPECT_EQ(Pt("GMT+08:00", Granularity::kMinute, PtFormat::kIso, t), "2020-11-17 15:04");
}

TEST(PartitionValue, DayMonthAndYearEndsInTheZoneNotInUtc) {
  // 15:59:59 UTC on Dec 31 is the last second of 2020 at +08:00; one second later is 2021.
  EXPECT_EQ(Pt("GMT+08:00", Granularity::kHour, PtFormat::kLegacy, Utc(2020, 12, 31, 15, 59, 59)),
            "12-31-2020 23");
  EXPECT_EQ(Pt("GMT+08:00", Granularity::kHour, PtFormat::kLegacy, Utc(2020, 12, 31, 16, 0, 0)),
            "01-01-2021 00");
  EXPECT_EQ(Pt("GMT+08:00", Granularity::kDay, PtFormat::kIso, Utc(2021, 4, 30, 16, 0)),
            "2021-05-01");
  EXPECT_EQ(Pt("GMT+08:00", Granularity::kDay, PtFormat::kIso, Utc(2021, 4, 30, 15, 59)),
            "2021-04-30");
}

TEST(PartitionValue, LeapDays) {
  EXPECT_EQ(Pt("GMT+08:00", Granularity::kDay, PtFormat::kLegacy, Utc(2020, 2, 28, 16, 0)),
            "02-29-2020");
  EXPECT_EQ(Pt("GMT+08:00", Granularity::kDay, PtFormat::kLegacy, Utc(2020, 2, 29, 16, 0)),
            "03-01-2020");
  // 2100 is not a leap year; 2000 is.
  EXPECT_EQ(Pt("GMT", Granularity::kDay, PtFormat::kIso, Utc(2100, 2, 28, 0, 0) + absl::Hours(24)),
            "2100-03-01");
  EXPECT_EQ(Pt("GMT", Granularity::kDay, PtFormat::kIso, Utc(2000, 2, 28, 0, 0) + absl::Hours(24)),
            "2000-02-29");
}

TEST(PartitionValue, NegativeOffsets) {
  // 02:59:59 UTC on Jan 1 is still Dec 31 at GMT-03:00.
  EXPECT_EQ(Pt("GMT-03:00", Granularity::kHour, PtFormat::kLegacy, Utc(2021, 1, 1, 2, 59, 59)),
            "12-31-2020 23");
  EXPECT_EQ(Pt("GMT-03:00", Granularity::kHour, PtFormat::kLegacy, Utc(2021, 1, 1, 3, 0, 0)),
            "01-01-2021 00");
}

TEST(PartitionValue, HalfHourOffsetsMoveTheHourBoundary) {
  // India (+05:30): the hour 15 starts at 09:30 UTC.
  EXPECT_EQ(Pt("Asia/Kolkata", Granularity::kHour, PtFormat::kLegacy, Utc(2020, 11, 17, 9, 29, 59)),
            "11-17-2020 14");
  EXPECT_EQ(Pt("GMT+05:30", Granularity::kHour, PtFormat::kLegacy, Utc(2020, 11, 17, 9, 30, 0)),
            "11-17-2020 15");
  EXPECT_EQ(Pt("GMT+05:30", Granularity::kMinute, PtFormat::kLegacy, Utc(2020, 11, 17, 9, 30, 0)),
            "11-17-2020 15:00");
  // GMT-03:30: the hour 15 starts at 18:30 UTC.
  EXPECT_EQ(Pt("GMT-03:30", Granularity::kHour, PtFormat::kIso, Utc(2020, 11, 17, 18, 29, 59)),
            "2020-11-17 14");
  EXPECT_EQ(Pt("GMT-03:30", Granularity::kHour, PtFormat::kIso, Utc(2020, 11, 17, 18, 30, 0)),
            "2020-11-17 15");
}

TEST(PartitionValue, DaylightSavingSpringForwardSkipsAnHour) {
  // New York, 2021-03-14: 02:00 EST (07:00 UTC) becomes 03:00 EDT; there is no hour 02.
  EXPECT_EQ(
      Pt("America/New_York", Granularity::kHour, PtFormat::kLegacy, Utc(2021, 3, 14, 6, 59, 59)),
      "03-14-2021 01");
  EXPECT_EQ(Pt("America/New_York", Granularity::kHour, PtFormat::kLegacy, Utc(2021, 3, 14, 7, 0)),
            "03-14-2021 03");
  // Berlin, 2021-03-28: 02:00 CET (01:00 UTC) becomes 03:00 CEST.
  EXPECT_EQ(Pt("Europe/Berlin", Granularity::kHour, PtFormat::kIso, Utc(2021, 3, 28, 0, 59)),
            "2021-03-28 01");
  EXPECT_EQ(Pt("Europe/Berlin", Granularity::kHour, PtFormat::kIso, Utc(2021, 3, 28, 1, 0)),
            "2021-03-28 03");
}

TEST(PartitionValue, DaylightSavingFallBackRepeatsAnHourWithOneFormatter) {
  // New York, 2021-11-07: 02:00 EDT (06:00 UTC) becomes 01:00 EST; hour 01 happens twice.
  // One formatter across the change checks that its cached window stays right.
  ASSERT_OK_AND_ASSIGN(absl::TimeZone ny, ParseTimeZone("America/New_York"));
  PartitionValueFormatter f(Granularity::kHour, PtFormat::kLegacy, ny);
  EXPECT_EQ(f.Format(Utc(2021, 11, 7, 4, 59)), "11-07-2021 00");
  EXPECT_EQ(f.Format(Utc(2021, 11, 7, 5, 30)), "11-07-2021 01");  // 01:30 EDT
  EXPECT_EQ(f.Format(Utc(2021, 11, 7, 6, 30)), "11-07-2021 01");  // 01:30 EST
  EXPECT_EQ(f.Format(Utc(2021, 11, 7, 7, 0)), "11-07-2021 02");   // 02:00 EST
  EXPECT_EQ(f.Format(Utc(2021, 11, 7, 5, 0)), "11-07-2021 01");   // back in time
  EXPECT_EQ(f.Format(Utc(2021, 11, 7, 4, 59, 59)), "11-07-2021 00");
}

TEST(PartitionValue, ReusedFormatterFollowsTimeBackAndForth) {
  ASSERT_OK_AND_ASSIGN(absl::TimeZone tz, ParseTimeZone("GMT+08:00"));
  PartitionValueFormatter f(Granularity::kMinute, PtFormat::kIso, tz);
  EXPECT_EQ(f.Format(Utc(2020, 11, 17, 7, 4, 0)), "2020-11-17 15:04");
  EXPECT_EQ(f.Format(Utc(2020, 11, 17, 7, 4, 59)), "2020-11-17 15:04");
  EXPECT_EQ(f.Format(Utc(2020, 11, 17, 7, 5, 0)), "2020-11-17 15:05");
  EXPECT_EQ(f.Format(Utc(2020, 11, 17, 7, 3, 59)), "2020-11-17 15:03");
  EXPECT_EQ(f.Format(Utc(2019, 1, 1, 0, 0, 0)), "2019-01-01 08:00");
}

}  // namespace
}  // namespace mcsink::convert
