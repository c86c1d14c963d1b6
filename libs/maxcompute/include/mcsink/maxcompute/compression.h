// Whole-body compression of Tunnel uploads and downloads (maxcompute-protocol.md §3.6).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace mcsink::maxcompute {

enum class Compression {
  kNone,     // no Content-Encoding (or "identity")
  kDeflate,  // Content-Encoding: deflate, zlib-wrapped (RFC 1950) deflate
};

// The Content-Encoding header value for `compression`: "" for kNone, "deflate".
std::string_view ContentEncodingOf(Compression compression);
// Parses a Content-Encoding value (case-insensitive; empty and "identity" mean kNone);
// nullopt for encodings this library does not implement (x-snappy-framed, x-lz4-frame, zstd).
std::optional<Compression> ParseContentEncoding(std::string_view header);

// zlib-wrapped deflate of `data` at `level` (1 = fastest, the Java SDK's default; 1..9).
absl::StatusOr<std::string> DeflateCompress(std::string_view data, int level = 1);

// Inflates a whole zlib-wrapped body (a raw deflate body, as some HTTP stacks send for
// "deflate", is accepted too). ResourceExhausted when the output would exceed
// `max_output_bytes` (checked while inflating, so a small "zip bomb" cannot allocate more);
// DataLoss when the body is corrupt, truncated, or has bytes after the end of the deflate stream.
absl::StatusOr<std::string> DeflateDecompress(std::string_view data, size_t max_output_bytes);

// Dispatches on `compression`; kNone returns the data unchanged (still bounded).
absl::StatusOr<std::string> Compress(Compression compression, std::string_view data);
absl::StatusOr<std::string> Decompress(Compression compression, std::string_view data,
                                       size_t max_output_bytes);

}  // namespace mcsink::maxcompute
