// CRC-32C (Castagnoli): reflected polynomial 0x82F63B78, init and final XOR 0xFFFFFFFF.
// Uses the SSE4.2 crc32 instruction when the CPU has it, a table otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mcsink::maxcompute {

// Continues a CRC-32C: `crc` is a previous result (0 to start); returns the new result.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size);
inline uint32_t Crc32cOf(std::string_view data) {
  return Crc32cExtend(0, data.data(), data.size());
}

// An accumulator with the Tunnel's update helpers.
class Crc32c {
 public:
  void Update(const void* data, size_t size) { value_ = Crc32cExtend(value_, data, size); }
  void UpdateInt32(int32_t v);  // 4 bytes little-endian
  void UpdateInt64(int64_t v);  // 8 bytes little-endian
  uint32_t value() const { return value_; }
  void Reset() { value_ = 0; }

 private:
  uint32_t value_ = 0;
};

// The two implementations behind Crc32cExtend, exposed so tests and benchmarks can check one
// against the other; production code calls Crc32cExtend, which picks one once per process.
namespace internal {
uint32_t Crc32cExtendPortable(uint32_t crc, const void* data, size_t size);
// True when the CPU has SSE4.2 (and so Crc32cExtendHardware may be called).
bool Crc32cHardwareAvailable();
uint32_t Crc32cExtendHardware(uint32_t crc, const void* data, size_t size);
}  // namespace internal

}  // namespace mcsink::maxcompute
