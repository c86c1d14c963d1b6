#include "mcsink/maxcompute/compression.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

#if defined(__x86_64__) || defined(__i386__)
#include <tmmintrin.h>
#define MCSINK_ADLER32_SSSE3 1
#endif

namespace mcsink::maxcompute {
namespace {

// zlib counts in uInt (32 bits); larger buffers are fed in pieces.
constexpr size_t kMaxZlibChunk = std::numeric_limits<uInt>::max();

absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string ZlibMessage(const z_stream& z, int code) {
  return z.msg != nullptr ? std::string(z.msg) : absl::StrCat("zlib error ", code);
}

// A zlib header: compression method 8 (deflate), window <= 32K, and the FCHECK multiple of 31.
bool LooksLikeZlibHeader(std::string_view data) {
  if (data.size() < 2) return false;
  const auto cmf = static_cast<uint8_t>(data[0]);
  const auto flg = static_cast<uint8_t>(data[1]);
  return (cmf & 0x0F) == 8 && (cmf >> 4) <= 7 && ((cmf << 8) | flg) % 31 == 0;
}

// --- Adler-32 (RFC 1950 section 8), the zlib format's checksum of the uncompressed body ---
// Debian's zlib computes it a byte at a time, which profiles showed at about a sixth of the
// compressor's time; the deflate stream is produced raw and wrapped here instead (see
// ThreadDeflater), with this checksum.

constexpr uint32_t kAdlerBase = 65521;
// zlib's NMAX: the most bytes whose sums cannot overflow 32 bits before the next modulo.
constexpr size_t kAdlerNmax = 5552;

uint32_t Adler32Portable(uint32_t adler, const unsigned char* p, size_t n) {
  return static_cast<uint32_t>(
      adler32_z(adler, reinterpret_cast<const Bytef*>(p), static_cast<z_size_t>(n)));
}

#ifdef MCSINK_ADLER32_SSSE3
// 16 bytes per step. Over a run of L bytes b_0..b_{L-1}, s1 grows by sum(b_i) and s2 by
// L*s1 + sum((L - i) * b_i). Per 16-byte block k the vectors keep: the byte sum (psadbw), the
// sum with weights 16..1 (pmaddubsw; at most 255*31 per 16-bit lane), and the running total of
// the previous blocks' byte sums, which counts each block 16 more times per later block.
__attribute__((target("ssse3"))) uint32_t Adler32Ssse3(uint32_t adler, const unsigned char* p,
                                                       size_t n) {
  uint32_t s1 = adler & 0xFFFF;
  uint32_t s2 = adler >> 16;
  const __m128i weights = _mm_setr_epi8(16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1);
  const __m128i ones = _mm_set1_epi16(1);
  const __m128i zero = _mm_setzero_si128();
  auto sum32 = [](__m128i v) {
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1)));
    return static_cast<uint64_t>(static_cast<uint32_t>(_mm_cvtsi128_si32(v)));
  };
  while (n >= 16) {
    const size_t blocks = std::min(n, kAdlerNmax) / 16;
    n -= blocks * 16;
    __m128i byte_sum = zero, previous = zero, weighted = zero;
    for (size_t k = 0; k < blocks; ++k, p += 16) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      previous = _mm_add_epi32(previous, byte_sum);
      byte_sum = _mm_add_epi32(byte_sum, _mm_sad_epu8(bytes, zero));
      weighted = _mm_add_epi32(weighted, _mm_madd_epi16(_mm_maddubs_epi16(bytes, weights), ones));
    }
    const uint64_t length = blocks * 16;
    s2 = static_cast<uint32_t>((s2 + s1 * length + 16 * sum32(previous) + sum32(weighted)) %
                               kAdlerBase);
    s1 = static_cast<uint32_t>((s1 + sum32(byte_sum)) % kAdlerBase);
  }
  for (; n > 0; --n) {
    s1 += *p++;
    s2 += s1;
  }
  return ((s2 % kAdlerBase) << 16) | (s1 % kAdlerBase);
}
#endif

uint32_t Adler32(uint32_t adler, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
#ifdef MCSINK_ADLER32_SSSE3
  static const bool ssse3 = __builtin_cpu_supports("ssse3");
  if (ssse3) return Adler32Ssse3(adler, p, n);
#endif
  return Adler32Portable(adler, p, n);
}

}  // namespace

std::string_view ContentEncodingOf(Compression compression) {
  switch (compression) {
    case Compression::kNone:
      return "";
    case Compression::kDeflate:
      return "deflate";
  }
  return "";
}

std::optional<Compression> ParseContentEncoding(std::string_view header) {
  const absl::string_view token = absl::StripAsciiWhitespace(ToAbsl(header));
  if (token.empty() || absl::EqualsIgnoreCase(token, "identity")) return Compression::kNone;
  if (absl::EqualsIgnoreCase(token, "deflate")) return Compression::kDeflate;
  return std::nullopt;
}

namespace {

// One deflate stream and output buffer per thread, reused by every call on that thread. A
// writer compresses one 16 MiB block per upload; per call, deflateInit would allocate (and
// zero) about 270 KiB of state, and a deflateBound-sized std::string would be zero-filled by
// resize() and faulted in page by page, though deflate fills only a fraction of it (record
// streams compress 5-10x). deflateReset restores exactly the state deflateInit creates, so the
// output is byte-identical to a fresh stream's. The buffer is allocated uninitialized, so only
// the pages deflate writes become resident: per thread, the largest compressed body so far.
//
// The stream is raw deflate, wrapped here as zlib wraps it (the same 2-byte header, then the
// deflate data, then the Adler-32 of the body, big-endian): zlib's wrapper changes nothing in
// the deflate data itself, so the body is byte-identical to deflateInit's, and the checksum
// comes from Adler32 above instead of zlib's byte-at-a-time loop.
class ThreadDeflater {
  static constexpr size_t kMaxKeptBuffer = size_t{80} << 20;
  static constexpr size_t kZlibHeaderBytes = 2;
  static constexpr size_t kZlibTrailerBytes = 4;

  // The header deflateInit(level) writes (RFC 1950 CMF and FLG), computed as zlib does: deflate
  // with a 2^15 window, the level class in FLEVEL, and FCHECK making it a multiple of 31.
  static unsigned ZlibHeader(int level) {
    unsigned header = (Z_DEFLATED + ((MAX_WBITS - 8) << 4)) << 8;
    const unsigned level_flags = level < 2 ? 0 : level < 6 ? 1 : level == 6 ? 2 : 3;
    header |= level_flags << 6;
    header += 31 - header % 31;
    return header;
  }

 public:
  ThreadDeflater() = default;
  ThreadDeflater(const ThreadDeflater&) = delete;
  ThreadDeflater& operator=(const ThreadDeflater&) = delete;
  ~ThreadDeflater() {
    if (level_ != 0) deflateEnd(&z_);
  }

  absl::StatusOr<std::string> Compress(std::string_view data, int level) {
    if (level_ != level) {
      if (level_ != 0) deflateEnd(&z_);
      level_ = 0;
      z_ = z_stream{};
      // deflateInit's parameters (window 2^15, memLevel 8, default strategy), without the
      // zlib wrapper.
      if (int rc = deflateInit2(&z_, level, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
          rc != Z_OK) {
        return absl::InternalError(absl::StrCat("deflateInit failed: ", ZlibMessage(z_, rc)));
      }
      level_ = level;
    } else if (int rc = deflateReset(&z_); rc != Z_OK) {
      return absl::InternalError(absl::StrCat("deflateReset failed: ", ZlibMessage(z_, rc)));
    }
    // deflateBound is the worst case of one deflate() call over the whole input, so a body
    // within one zlib chunk never needs a second buffer.
    Reserve(kZlibHeaderBytes +
            deflateBound(&z_, static_cast<uLong>(std::min(data.size(), kMaxZlibChunk))) +
            kZlibTrailerBytes);
    const unsigned header = ZlibHeader(level);
    buffer_[0] = static_cast<char>(header >> 8);
    buffer_[1] = static_cast<char>(header & 0xFF);
    size_t produced = kZlibHeaderBytes;
    const char* in = data.data();
    size_t in_left = data.size();
    int rc = Z_OK;
    do {
      const size_t chunk = std::min(in_left, kMaxZlibChunk);
      z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in));
      z_.avail_in = static_cast<uInt>(chunk);
      in += chunk;
      in_left -= chunk;
      const int flush = in_left == 0 ? Z_FINISH : Z_NO_FLUSH;
      do {
        if (produced == capacity_) Reserve(capacity_ * 2 + 64, produced);
        const size_t room = std::min(capacity_ - produced, kMaxZlibChunk);
        z_.next_out = reinterpret_cast<Bytef*>(buffer_.get() + produced);
        z_.avail_out = static_cast<uInt>(room);
        rc = deflate(&z_, flush);
        produced += room - z_.avail_out;
        if (rc == Z_STREAM_ERROR) {
          const std::string message = ZlibMessage(z_, rc);
          deflateEnd(&z_);
          level_ = 0;  // re-initialized by the next call
          return absl::InternalError(absl::StrCat("deflate failed: ", message));
        }
      } while (z_.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
    } while (in_left > 0);
    Reserve(produced + kZlibTrailerBytes, produced);
    const uint32_t adler = Adler32(1, data.data(), data.size());
    for (int shift = 24; shift >= 0; shift -= 8) {
      buffer_[produced++] = static_cast<char>((adler >> shift) & 0xFF);
    }
    // The one copy: the compressed bytes (a fraction of the input) into an exact-size string.
    std::string out(buffer_.get(), produced);
    // Writers cut blocks at --block_mb (16 MiB by default); a body much larger than any sane
    // block size is an outlier whose buffer is not kept.
    if (capacity_ > kMaxKeptBuffer) {
      buffer_.reset();
      capacity_ = 0;
    }
    return out;
  }

 private:
  // Grows the buffer to at least `size`, keeping its first `keep` bytes.
  void Reserve(size_t size, size_t keep = 0) {
    if (size <= capacity_) return;
    std::unique_ptr<char[]> bigger(new char[size]);  // uninitialized on purpose (see above)
    if (keep > 0) std::memcpy(bigger.get(), buffer_.get(), keep);
    buffer_ = std::move(bigger);
    capacity_ = size;
  }

  z_stream z_{};
  int level_ = 0;  // 0: z_ is not initialized
  std::unique_ptr<char[]> buffer_;
  size_t capacity_ = 0;
};

}  // namespace

absl::StatusOr<std::string> DeflateCompress(std::string_view data, int level) {
  if (level < 1 || level > 9) {
    return absl::InvalidArgumentError(absl::StrCat("deflate level ", level, " is not in 1..9"));
  }
  thread_local ThreadDeflater deflater;
  return deflater.Compress(data, level);
}

absl::StatusOr<std::string> DeflateDecompress(std::string_view data, size_t max_output_bytes) {
  z_stream z{};
  const bool zlib_wrapped = LooksLikeZlibHeader(data);
  if (int rc = inflateInit2(&z, zlib_wrapped ? MAX_WBITS : -MAX_WBITS); rc != Z_OK) {
    return absl::InternalError(absl::StrCat("inflateInit failed: ", ZlibMessage(z, rc)));
  }
  std::string out;
  // Deflate ratios of record streams are typically 3-10x; start there and grow by doubling.
  out.resize(std::min(max_output_bytes, std::max<size_t>(4096, data.size() * 4)));
  size_t produced = 0;
  const char* in = data.data();
  size_t in_left = data.size();
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (z.avail_in == 0) {
      if (in_left == 0) {
        inflateEnd(&z);
        return absl::DataLossError(absl::StrCat("deflate body is truncated: its ", data.size(),
                                                " bytes end before the deflate stream "
                                                "does"));
      }
      const size_t chunk = std::min(in_left, kMaxZlibChunk);
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in));
      z.avail_in = static_cast<uInt>(chunk);
      in += chunk;
      in_left -= chunk;
    }
    if (produced == out.size()) {
      if (out.size() >= max_output_bytes) {
        // The output is full: probe one more byte to tell "exactly at the bound" from "above".
        char probe;
        z.next_out = reinterpret_cast<Bytef*>(&probe);
        z.avail_out = 1;
        rc = inflate(&z, Z_NO_FLUSH);
        if (z.avail_out == 0) {
          inflateEnd(&z);
          return absl::ResourceExhaustedError(absl::StrCat(
              "deflate body inflates to more than the limit of ", max_output_bytes, " bytes"));
        }
        if (rc == Z_STREAM_END) break;
        if (rc != Z_OK && rc != Z_BUF_ERROR) break;
        continue;
      }
      out.resize(std::min(max_output_bytes, out.size() * 2));
    }
    const size_t room = std::min(out.size() - produced, kMaxZlibChunk);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    z.avail_out = static_cast<uInt>(room);
    rc = inflate(&z, Z_NO_FLUSH);
    produced += room - z.avail_out;
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) break;
  }
  if (rc != Z_STREAM_END && rc != Z_OK) {
    const std::string message = ZlibMessage(z, rc);
    inflateEnd(&z);
    return absl::DataLossError(absl::StrCat("deflate body is corrupt: ", message));
  }
  const size_t trailing = z.avail_in + in_left;
  inflateEnd(&z);
  if (trailing != 0) {
    return absl::DataLossError(
        absl::StrCat("deflate body has ", trailing, " bytes after the end of its deflate stream"));
  }
  out.resize(produced);
  return out;
}

absl::StatusOr<std::string> Compress(Compression compression, std::string_view data) {
  switch (compression) {
    case Compression::kNone:
      return std::string(data);
    case Compression::kDeflate:
      return DeflateCompress(data);
  }
  return absl::InvalidArgumentError("unknown compression");
}

absl::StatusOr<std::string> Decompress(Compression compression, std::string_view data,
                                       size_t max_output_bytes) {
  switch (compression) {
    case Compression::kNone:
      if (data.size() > max_output_bytes) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "body of ", data.size(), " bytes exceeds the limit of ", max_output_bytes, " bytes"));
      }
      return std::string(data);
    case Compression::kDeflate:
      return DeflateDecompress(data, max_output_bytes);
  }
  return absl::InvalidArgumentError("unknown compression");
}

}  // namespace mcsink::maxcompute
