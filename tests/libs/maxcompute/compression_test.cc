#include "mcsink/maxcompute/compression.h"

#include <zlib.h>

#include <random>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink::maxcompute {
namespace {

using ::testing::HasSubstr;

std::string SampleBody() {
  // Compressible like a record stream: repeated structure with some noise.
  std::mt19937 rng(7);
  std::string body;
  for (int i = 0; i < 20000; ++i) {
    body += "topic-a\x10";
    body.push_back(static_cast<char>(rng() % 16));
    body += "value payload ";
  }
  return body;
}

TEST(Deflate, RoundTripRestoresTheBody) {
  const std::string body = SampleBody();
  ASSERT_OK_AND_ASSIGN(std::string compressed, DeflateCompress(body));
  EXPECT_LT(compressed.size(), body.size() / 3);
  ASSERT_OK_AND_ASSIGN(std::string restored, DeflateDecompress(compressed, body.size()));
  EXPECT_EQ(restored, body);
}

TEST(Deflate, OutputIsZlibWrappedAsTheJavaSdkSends) {
  ASSERT_OK_AND_ASSIGN(std::string compressed, DeflateCompress("hello"));
  // RFC 1950 header: CM=8, CINFO=7, level-1 FLEVEL.
  ASSERT_GE(compressed.size(), 6u);
  EXPECT_EQ(static_cast<uint8_t>(compressed[0]), 0x78);
  // And zlib itself (uncompress = zlib-wrapped) reads it back.
  char out[16];
  uLongf out_size = sizeof(out);
  ASSERT_EQ(uncompress(reinterpret_cast<Bytef*>(out), &out_size,
                       reinterpret_cast<const Bytef*>(compressed.data()), compressed.size()),
            Z_OK);
  EXPECT_EQ(std::string(out, out_size), "hello");
}

TEST(Deflate, EmptyBodyRoundTrips) {
  ASSERT_OK_AND_ASSIGN(std::string compressed, DeflateCompress(""));
  ASSERT_OK_AND_ASSIGN(std::string restored, DeflateDecompress(compressed, 0));
  EXPECT_EQ(restored, "");
}

TEST(Deflate, OutputAboveTheBoundIsResourceExhausted) {
  const std::string body(1 << 20, 'a');  // compresses ~1000x: a small bomb
  ASSERT_OK_AND_ASSIGN(std::string compressed, DeflateCompress(body));
  EXPECT_OK(DeflateDecompress(compressed, body.size()));
  absl::StatusOr<std::string> restored = DeflateDecompress(compressed, body.size() - 1);
  ASSERT_FALSE(restored.ok());
  EXPECT_EQ(restored.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(restored.status().message(), HasSubstr(std::to_string(body.size() - 1)));
}

TEST(Deflate, CorruptBodyIsDataLoss) {
  ASSERT_OK_AND_ASSIGN(std::string compressed, DeflateCompress(SampleBody()));
  compressed[compressed.size() / 2] ^= 0x55;
  compressed[compressed.size() / 2 + 1] ^= 0x55;
  absl::StatusOr<std::string> restored = DeflateDecompress(compressed, 1 << 24);
  ASSERT_FALSE(restored.ok());
  EXPECT_EQ(restored.status().code(), absl::StatusCode::kDataLoss);
}

TEST(Deflate, TruncatedBodyIsDataLoss) {
  ASSERT_OK_AND_ASSIGN(std::string compressed, DeflateCompress(SampleBody()));
  absl::StatusOr<std::string> restored =
      DeflateDecompress(compressed.substr(0, compressed.size() - 3), 1 << 24);
  ASSERT_FALSE(restored.ok());
  EXPECT_EQ(restored.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(restored.status().message(), HasSubstr("truncated"));
}

TEST(Deflate, BytesAfterTheStreamAreDataLoss) {
  ASSERT_OK_AND_ASSIGN(std::string compressed, DeflateCompress("hello"));
  absl::StatusOr<std::string> restored = DeflateDecompress(compressed + "zz", 100);
  ASSERT_FALSE(restored.ok());
  EXPECT_EQ(restored.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(restored.status().message(), HasSubstr("2 bytes after"));
}

TEST(Deflate, RawDeflateBodyIsAcceptedToo) {
  // Given "hello" as a raw (headerless) deflate stream
  z_stream z{};
  ASSERT_EQ(deflateInit2(&z, 1, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string in = "hello hello hello";
  char out[128];
  z.next_in = reinterpret_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out);
  z.avail_out = sizeof(out);
  ASSERT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  const std::string raw(out, sizeof(out) - z.avail_out);
  deflateEnd(&z);

  ASSERT_OK_AND_ASSIGN(std::string restored, DeflateDecompress(raw, 100));
  EXPECT_EQ(restored, in);
}

// Our deflate writes the zlib header and Adler-32 itself (with a SIMD Adler-32): the bytes must
// be exactly what zlib's compress2 makes, at every level and around the Adler-32 block sizes
// (NMAX 5552, the 16-byte vector width) and the output buffer's growth.
TEST(Deflate, OutputIsByteIdenticalToZlibCompress2) {
  std::mt19937 rng(11);
  const std::string sample = SampleBody();
  for (size_t size : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{5551},
                      size_t{5552}, size_t{5553}, size_t{65536 + 3}, size_t{1} << 20}) {
    std::string random(size, '\0');
    for (char& c : random) c = static_cast<char>(rng());
    std::string constant(size, '\xff');  // the Adler-32 sums' worst case
    std::string text;
    while (text.size() < size) text += sample;
    text.resize(size);
    for (const std::string* body : {&random, &constant, &text}) {
      for (int level : {1, 6, 9}) {
        uLongf bound = compressBound(static_cast<uLong>(body->size()));
        std::string expected(bound, '\0');
        ASSERT_EQ(compress2(reinterpret_cast<Bytef*>(expected.data()), &bound,
                            reinterpret_cast<const Bytef*>(body->data()),
                            static_cast<uLong>(body->size()), level),
                  Z_OK);
        expected.resize(bound);
        ASSERT_OK_AND_ASSIGN(std::string compressed, DeflateCompress(*body, level));
        EXPECT_EQ(compressed, expected) << "size " << size << ", level " << level;
      }
    }
  }
}

TEST(Deflate, RejectsAnInvalidLevel) {
  EXPECT_EQ(DeflateCompress("x", 0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ContentEncoding, ParsesTheTokensThisLibraryImplements) {
  EXPECT_EQ(ParseContentEncoding(""), Compression::kNone);
  EXPECT_EQ(ParseContentEncoding("identity"), Compression::kNone);
  EXPECT_EQ(ParseContentEncoding(" Deflate "), Compression::kDeflate);
  EXPECT_EQ(ParseContentEncoding("x-snappy-framed"), std::nullopt);
  EXPECT_EQ(ContentEncodingOf(Compression::kDeflate), "deflate");
}

TEST(Compression, NoneIsBoundedToo) {
  EXPECT_OK(Decompress(Compression::kNone, "abc", 3));
  EXPECT_EQ(Decompress(Compression::kNone, "abcd", 3).status().code(),
            absl::StatusCode::kResourceExhausted);
  ASSERT_OK_AND_ASSIGN(std::string compressed, Compress(Compression::kDeflate, "abcd"));
  ASSERT_OK_AND_ASSIGN(std::string restored, Decompress(Compression::kDeflate, compressed, 4));
  EXPECT_EQ(restored, "abcd");
}

}  // namespace
}  // namespace mcsink::maxcompute
