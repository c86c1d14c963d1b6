#include "mcsink/maxcompute/compression.h"

#include <zlib.h>

#include <algorithm>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

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

absl::StatusOr<std::string> DeflateCompress(std::string_view data, int level) {
  if (level < 1 || level > 9) {
    return absl::InvalidArgumentError(absl::StrCat("deflate level ", level, " is not in 1..9"));
  }
  z_stream z{};
  if (int rc = deflateInit(&z, level); rc != Z_OK) {
    return absl::InternalError(absl::StrCat("deflateInit failed: ", ZlibMessage(z, rc)));
  }
  std::string out;
  out.resize(deflateBound(&z, static_cast<uLong>(std::min(data.size(), kMaxZlibChunk))));
  size_t produced = 0;
  const char* in = data.data();
  size_t in_left = data.size();
  int rc = Z_OK;
  do {
    const size_t chunk = std::min(in_left, kMaxZlibChunk);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in));
    z.avail_in = static_cast<uInt>(chunk);
    in += chunk;
    in_left -= chunk;
    const int flush = in_left == 0 ? Z_FINISH : Z_NO_FLUSH;
    do {
      if (produced == out.size()) out.resize(out.size() * 2 + 64);
      const size_t room = std::min(out.size() - produced, kMaxZlibChunk);
      z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
      z.avail_out = static_cast<uInt>(room);
      rc = deflate(&z, flush);
      produced += room - z.avail_out;
      if (rc == Z_STREAM_ERROR) {
        deflateEnd(&z);
        return absl::InternalError(absl::StrCat("deflate failed: ", ZlibMessage(z, rc)));
      }
    } while (z.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  } while (in_left > 0);
  deflateEnd(&z);
  out.resize(produced);
  return out;
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
