#include "mcsink/maxcompute/crc32c.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace mcsink::maxcompute {
namespace {

using internal::Crc32cExtendHardware;
using internal::Crc32cExtendPortable;
using internal::Crc32cHardwareAvailable;

uint32_t Portable(std::string_view s) { return Crc32cExtendPortable(0, s.data(), s.size()); }
uint32_t Hardware(std::string_view s) { return Crc32cExtendHardware(0, s.data(), s.size()); }

// RFC 3720 (iSCSI) appendix B.4 test vectors plus the standard check value.
struct Vector {
  std::string data;
  uint32_t crc;
};
std::vector<Vector> KnownVectors() {
  std::string ascending(32, '\0');
  std::string descending(32, '\0');
  for (int i = 0; i < 32; ++i) {
    ascending[i] = static_cast<char>(i);
    descending[i] = static_cast<char>(31 - i);
  }
  return {{"123456789", 0xE3069283},
          {std::string(32, '\0'), 0x8A9136AA},
          {std::string(32, '\xFF'), 0x62A8AB43},
          {ascending, 0x46DD794E},
          {descending, 0x113FDB5C},
          {"", 0}};
}

TEST(Crc32c, PortableMatchesKnownVectors) {
  for (const Vector& v : KnownVectors()) EXPECT_EQ(Portable(v.data), v.crc) << v.data.size();
}

TEST(Crc32c, HardwareMatchesKnownVectors) {
  if (!Crc32cHardwareAvailable()) GTEST_SKIP() << "CPU has no SSE4.2";
  for (const Vector& v : KnownVectors()) EXPECT_EQ(Hardware(v.data), v.crc) << v.data.size();
}

TEST(Crc32c, DispatchedFunctionMatchesCheckValue) { EXPECT_EQ(Crc32cOf("123456789"), 0xE3069283u); }

TEST(Crc32c, BothPathsAgreeOnEveryAlignmentAndLength) {
  if (!Crc32cHardwareAvailable()) GTEST_SKIP() << "CPU has no SSE4.2";
  std::mt19937 rng(42);
  std::string buffer(1024 + 16, '\0');
  for (char& c : buffer) c = static_cast<char>(rng());
  for (size_t offset = 0; offset < 16; ++offset) {
    for (size_t length = 0; length <= 1024; length = length < 80 ? length + 1 : length * 2 - 1) {
      const char* p = buffer.data() + offset;
      ASSERT_EQ(Crc32cExtendPortable(0x12345678, p, length),
                Crc32cExtendHardware(0x12345678, p, length))
          << "offset " << offset << " length " << length;
    }
  }
}

TEST(Crc32c, CheckValueAtOddOffsetsOnBothPaths) {
  for (size_t offset = 0; offset < 9; ++offset) {
    std::string buffer(offset, 'x');
    buffer += "123456789";
    std::string_view unaligned(buffer.data() + offset, 9);
    EXPECT_EQ(Portable(unaligned), 0xE3069283u) << offset;
    if (Crc32cHardwareAvailable()) {
      EXPECT_EQ(Hardware(unaligned), 0xE3069283u) << offset;
    }
  }
}

TEST(Crc32c, ExtendingInPiecesEqualsOneCall) {
  const std::string data = "The quick brown fox jumps over the lazy dog, twice over.";
  for (size_t split = 0; split <= data.size(); ++split) {
    uint32_t crc = Crc32cExtend(0, data.data(), split);
    crc = Crc32cExtend(crc, data.data() + split, data.size() - split);
    EXPECT_EQ(crc, Crc32cOf(data)) << split;
  }
}

TEST(Crc32c, UpdateIntHelpersFeedLittleEndianBytes) {
  Crc32c a;
  a.UpdateInt32(0x04030201);
  a.UpdateInt64(0x0C0B0A0908070605);
  EXPECT_EQ(a.value(), Crc32cOf(std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0A\x0B\x0C")));
  a.Reset();
  EXPECT_EQ(a.value(), 0u);
}

}  // namespace
}  // namespace mcsink::maxcompute
