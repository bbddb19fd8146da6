// HdrHistogram's V2 encoding: round trips, encoded histograms from the HdrHistogram
// implementations decoded to their known contents (and one re-encoded byte for byte), and
// hostile inputs, each of which must give an error and nothing else.

#include "load/hdr_codec.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <string>

#include "load/base64.h"

using namespace portd::load;

namespace {

constexpr int64_t kHour = 3'600'000'000;

Histogram decodeOrFail(std::string_view base64) {
  std::string error;
  std::optional<Histogram> h = decodeBase64Histogram(base64, &error);
  EXPECT_TRUE(h) << base64 << ": " << error;
  return h ? std::move(*h) : Histogram();
}

// The error decoding `bytes` gives; fails the test if it decodes.
std::string decodeError(std::string_view bytes, const DecodeLimits& limits = {}) {
  std::string error;
  std::optional<Histogram> h = decodeHistogram(bytes, &error, limits);
  EXPECT_FALSE(h) << "decoded where an error was expected: " << encodeBase64(bytes);
  EXPECT_FALSE(error.empty());
  return error;
}

void putBigEndian(std::string* out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

// A V2 header with the given fields.
std::string v2Header(int32_t payload_length, int32_t digits, int64_t lowest, int64_t highest,
                     uint32_t cookie = kV2EncodingCookie) {
  std::string out;
  putBigEndian(&out, cookie, 4);
  putBigEndian(&out, static_cast<uint32_t>(payload_length), 4);
  putBigEndian(&out, 0, 4);
  putBigEndian(&out, static_cast<uint32_t>(digits), 4);
  putBigEndian(&out, static_cast<uint64_t>(lowest), 8);
  putBigEndian(&out, static_cast<uint64_t>(highest), 8);
  putBigEndian(&out, 0x3ff0000000000000, 8);
  return out;
}

// `v2` deflated and wrapped in the compressed form's header, whose length field is the
// deflated length unless `length_field` says otherwise.
std::string compress(std::string_view v2, std::optional<int32_t> length_field = std::nullopt) {
  uLongf length = compressBound(static_cast<uLong>(v2.size()));
  std::string deflated(length, '\0');
  EXPECT_EQ(compress2(reinterpret_cast<Bytef*>(deflated.data()), &length,
                      reinterpret_cast<const Bytef*>(v2.data()), static_cast<uLong>(v2.size()), 9),
            Z_OK);
  deflated.resize(length);
  std::string out;
  putBigEndian(&out, kV2CompressedEncodingCookie, 4);
  putBigEndian(&out, static_cast<uint32_t>(length_field.value_or(static_cast<int32_t>(length))), 4);
  return out + deflated;
}

// HdrHistogram_c's load_histograms() raw histogram.
Histogram rawHistogram() {
  Histogram h(1, kHour, 3);
  for (int i = 0; i < 10000; ++i) {
    h.record(1000);
  }
  h.record(100000000);
  return h;
}

void expectRoundTrip(const Histogram& h) {
  std::string error;
  std::optional<Histogram> back = decodeHistogram(encodeV2(h), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, h);
  back = decodeHistogram(encodeCompressed(h), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, h);
  back = decodeBase64Histogram(encodeCompressedBase64(h), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, h);
  EXPECT_EQ(back->max(), h.max());
  EXPECT_EQ(back->min(), h.min());
  EXPECT_EQ(back->mean(), h.mean());
}

}  // namespace

TEST(HdrCodec, RoundTrips) {
  expectRoundTrip(Histogram());
  expectRoundTrip(Histogram(20, 1000, 3));
  expectRoundTrip(rawHistogram());
  Histogram squares(1, kHour, 3);
  for (int64_t i = 1; i < 100; ++i) {
    squares.record(i * i);
  }
  expectRoundTrip(squares);
  // test_string_encode_decode_2: every value of a small range.
  Histogram dense(1, 1000, 3);
  for (int64_t i = 1; i < 1000; ++i) {
    dense.record(i);
  }
  expectRoundTrip(dense);
  // test_encode_and_decode_compressed_large: 4 digits, random values over the whole range.
  Histogram large(1, kHour, 4);
  std::mt19937_64 rng(5);
  for (int i = 0; i < 8070; ++i) {
    large.record(static_cast<int64_t>(rng() % static_cast<uint64_t>(kHour)));
  }
  expectRoundTrip(large);
  // Counts that take all 9 bytes of their encoding, at the ends of the layout.
  Histogram huge(1, kHour, 3);
  huge.record(0, INT64_MAX / 2);
  huge.record(kHour, INT64_MAX / 2);
  expectRoundTrip(huge);
}

TEST(HdrCodec, EncodesTheUncompressedFormByteForByte) {
  Histogram h(1, 2, 3);
  h.record(0);
  h.record(2, 300);
  // Count 1 at index 0, one zero (written as a count of 0), 300 as ZigZag LEB128 (600).
  EXPECT_EQ(encodeV2(h), v2Header(4, 3, 1, 2) + std::string("\x02\x00\xd8\x04", 4));
  // An empty histogram encodes the single count of index 0, as Java does.
  EXPECT_EQ(encodeV2(Histogram(1, 2, 3)), v2Header(1, 3, 1, 2) + std::string(1, '\0'));
}

TEST(HdrCodec, ReencodesJavasHistogramByteForByte) {
  // From HdrHistogramJS's and hdrhistogram-go's tests: lowest 1, highest 2, 3 digits, one count
  // of 42, compressed by Java at the best compression level, as HistogramLogWriter does.
  const std::string_view java = "HISTFAAAAB542pNpmSzMwMDAxAABzFCaEUoz2X+AMIKZAEARAtM=";
  Histogram h = decodeOrFail(java);
  EXPECT_EQ(h.lowest(), 1);
  EXPECT_EQ(h.highest(), 2);
  EXPECT_EQ(h.digits(), 3);
  EXPECT_EQ(h.totalCount(), 1);
  EXPECT_EQ(h.mean(), 42.0);
  EXPECT_EQ(h.countAtIndex(42), 1);
  EXPECT_EQ(encodeCompressedBase64(h), java);
}

TEST(HdrCodec, DecodesHistogramsOfOtherImplementations) {
  // HdrHistogramJS's own encoding of the same histogram: default compression level, and a
  // header with a normalizing offset of 1 and a conversion ratio of 2^-1074, both ignored.
  Histogram js = decodeOrFail("HISTFAAAAB94nJNpmSzMwMDABMSMQMzMAAGMUJoJxg9mAgA1TQGm");
  EXPECT_EQ(js.totalCount(), 1);
  EXPECT_EQ(js.mean(), 42.0);
  EXPECT_EQ(js.max(), 42);

  // hdrhistogram-go's empty histogram of 20 .. 1000, 3 digits (with an empty payload).
  Histogram empty = decodeOrFail("HISTFAAAABl4nJNpmSzMgADMUFoEyn1h/wHCAgBDogN4");
  EXPECT_EQ(empty.lowest(), 20);
  EXPECT_EQ(empty.highest(), 1000);
  EXPECT_EQ(empty.digits(), 3);
  EXPECT_EQ(empty.totalCount(), 0);

  // What the hdr-decode tool's README shows the JavaScript port decoding it to.
  Histogram five = decodeOrFail("HISTFAAAACh4nJNpmSzMwMDAwQABTFCaEURcm7yEwf4DROArF1M1230WJgCDWQb1");
  EXPECT_EQ(five.highest(), kHour);
  EXPECT_EQ(five.digits(), 2);
  EXPECT_EQ(five.layout().countsLength(), 3328);
  EXPECT_EQ(five.totalCount(), 5);
  EXPECT_EQ(five.countAtIndex(699), 1);
  EXPECT_EQ(five.countAtIndex(762), 3);
  EXPECT_EQ(five.countAtIndex(1067), 1);
  EXPECT_EQ(five.min(), 2992);
  EXPECT_EQ(five.max(), 22015);

  // HdrHistogramJS's "big base64 string": 10000 values.
  Histogram big = decodeOrFail(
      "HISTFAAACGB42j1WQY4cuRGks7KzWWwOh1NTGo1GEmzBWCx0EAxjsdiTsdiTD4ZPfoa/4R/4o/7BOiKSrWnNVBWLzIyM"
      "iMzWp//897mUA7/62db1D/n3999//V8umBW74POTPds7+4In2/xq722zv9huj/bRbvZH+2oPdrV3vtu//AOeP9if8Ra7"
      "H7DlhlcPePyo+w1xrrh+84uZFzd7QkyEL/ZXJPgN295jC5bsii0FN084/BXXDQH+jqPMlhn5eYf1D/beb9h7BdSfseMJ"
      "GG5C94h3BRFveibyZ9x9wR1KeaebR0P8J/vVfsCbHevv7DOxPxt2/1MrLOQz3j8BH2DjhOHpA/ZfEILRWaD9bZHyb7z6"
      "0X6xRxByMzxsQEJsCPlNoP/BFI849WQP/iy+cHJHqG+4veIAWcf+DQ9Y51MRBRueHlRqEbOPXqQR74Ec28Dab9pseLpq"
      "I7na/bPCPuBz0xskIIAvUqVIpQdTcr7/Afje68RHpPwsBrXnUYE3UVy0AYubljZTggshU+gdlTHej6iyJEfXuOb+B51w"
      "cXdbzD/yaFkQNn+fXnHBY7In5Sgi4wb34IYciy83hbxSG/pJFipa+VnByeJXFMPD0pQMoUTc+i3BExV+bgKa98WYHqk2"
      "GnaH+bPg3Xl8X9AEZpcI4qCsDx/9kpfMWJyG3Xz3PQGWDI88N2myqfh1c9H10XQT4qoI1E19uC87cKMLtS2byDWs3u6Q"
      "nlyet7gqYvHtTnWaKXndXBZ6oo2IGJTnywxyuT/tstx+p2ZTBQKQql6F67ogJCWXxO4cIrhcJfwui1ouMTInwc1vi8RL"
      "tSUuJarJNYtGjgcpuPuDcHBgMMQqyiwZUF0C4ImHhRehVqurp7w0npbmm2yllFTJXEJv3wNJL/LEQlYxFw9bei3hmY9o"
      "WJO70goSLxpr3q+22EhF434Sa/i58M+yTSKGdHYJW6aETlouZMIyrSbqCgd6N6DyBJ3q4TUmLlNuUcJZoTasfmAtSLBp"
      "LssdC96+ig9Cu3PKZ0/RNZsyENkDXiZOrusmWXYcjs2yjbDX9ljQfV3ijoMPvEbiJvOeTIGRO0OXO5ll1U6W2bqhAsDe"
      "lenq9/Zy+dnVAQv5fudVfUcAG15gGFRGvvrVy3cmNqa+eIlkZbkT7ighNrZEcwmtMaQno241JTed3URhOuOSE6wsDRap"
      "RVnFhpJdkxZfv3GLrJqu5LZLLi+XpOfFaRISd19d6BkMlmBcNOxW0zmF5odgllbO/lCxPEKDkP9lVjKULpF/WEXdeA1l"
      "Yo3A3oSYXIa4KLWwQZitlaixpfXYzniV6nPbQDaPKIIu/SuTBk7JuVhWJJcXeSi80hQMmbTLh7Ws0qsoRIoadRNFZBY5"
      "NtoxP3jp6kjiR8BNdTFbLNRllIj8ErLOgcDV7qsXbKu0SFSK4FU80l7Yhr2DrHNjIAvh8FUGcxqDYlovqiPVCiXfKhfU"
      "cNnAcpHUjNWGjZi5iUiT3bpVYKucA0TM7S5QVWR6PkjCFBx7OuGRIzFcazgUwraS/sk6inedzENVRZnc0XL0izNrOKxQ"
      "auPm3tgfqC2p1SqtxgQkpLgaTtR7qIPYghHihqe6NAhbLROaYT2/yJxKcJAJag67xn/6b6UgBtNHzcmH9Y7LgFTf86nR"
      "YCCqKiOrmODpyFlrpsKjKX3AayLK6OKarcUnrJckOKk3fW14fgWsdg0NsEySspJnygVIta7h17Nn2cClVc+5Fzp5SW9K"
      "QBJZt/Wl4voGoys13gsNjinMmu8y0lhdfLC1kgA1cLBdOoEnj9Sb2hVrfcIPECO8NfwB791rZ19RZ+yLjmrxjH9QrEPo"
      "5r0Ovnd2HQ4OvBit19oqtanRkL2hyOqNkwgP2BzHydZG5CYhu0yGfYFzzkFSOzB1Grnxq9GzE7ypsfxAFmIYDdfRG9gE"
      "UCTD+8ZJAHlG57CAnEgCCqczdMhvAFVUGRAP49xoqBr4bVLNNg2BmiplOoQFPsZ2nOnYxWZrfQBhVIwG1FZZFT5HdxWr"
      "TgweZm/JiCgV25kMEQfrl68rVUECyhTE3CIdELwJze0u0jgrrHfOCrgaK9hdR0eGMch+JXGpTggNzkKIThVqBVCUNBob"
      "odN+YAqFkUGUCUt0Dg5ALNNGdjwq5ixpnXVoevAAqGM0mgtniDlG5Zxx6HcGItlI7G1SyANyAQDVBFZYhFTiyhkMX1XB"
      "BY+9I2/OMucIxhYaAh+EmVg2+ik/eGO0Jzgg1Zw++iJBgEpWcGl10sUqFw6hd+vp+S0xOHIqC5fGrRIRq0IxTUZtloyD"
      "I9aP8kagP6fmk/us9HEos4YEzrEOCk1BWBtkYk6OXKObwHgMfN81sVnpdliHDPKLDnoWGRJGiK4xPzhjKruu9UYpQYh6"
      "ASv0lbe0DOdX6ayAmNEkyFoLv7JoQH6o/+CDoS3xt5wqjSpJhHjtjZr1OCA+Ys5ZDzYx/DL6iI4eG8dr6bOPA7hnbccc"
      "53gbPNJHqzgx5zE6/ImJQKMN3OFYe5mQ9qxv/RyvzY854QpIM/AX2/w8xoluoETnnONtvowxZjuPjiLbS61vwydCAu4x"
      "2tlfz47U3A75zonNmEHgZbzM3pAIaNuJQYbFMY8GaMjjAyv1PNtLf208c87XPlBEsLVeZ5/HGfWIAwyjodoJwmYMR6HH"
      "2SfcVnGnsYbTfPiENP316K8Dr8+K4hpIgdlHBUdgox3jBSk6K0YP9qMBzZzRX0CQgwTYPXBw1IHCQDLeI1kDG/0E0nqO"
      "A5+O8EA+XhFytKO1E5MJlZ4dvNY5zzpeHFkhH9K8sS/npFjIZZ8aM4e/NGjUx/BjvCHA0QnkBTHwFqGO2Y+jw24T0rNF"
      "/oT3/Zx06P8BChhtKw==");
  EXPECT_EQ(big.totalCount(), 10000);
  expectRoundTrip(big);
}

TEST(HdrCodec, RefusesOtherEncodings) {
  // HdrHistogram_c's crafted inputs (test_decode_rejects_crafted_bounds_attacks and
  // test_v1_decode_rejects_oversized_counts), V0 and V1 encodings, and a V2 one with a
  // negative payload length.
  for (std::string_view crafted : {
           "HISTAgAAABp4nJNpmdzIwFDLAAWMaDST/QcGFAAAdaEDZQ==",
           "HISTAgAAABl42pNpmdz4////HwwQwIhGMzGgAQD3VgWu",
           "HISTAgAAAB54nJNpmSzIwMDAyAABzFAawmdsWwDlMzQAAD9AAvE=",
           "HISTCQAAACd4nJNpmSzBwMDAzAABjFCaiQHGGAWjYBSMglEwCkbBSAMNAMTQEdA=",
           "HISTBAAAABl4nJNpmcz8HwgYIIARjWay/8CAAgD0TwZm",
           "HISTIgAAAFd42pNpmazIwMAYxgABTBDKT4GBgdnNYMcCBvsPUBkeBkYGZqA8MwMbAzsDC5DFBCTZgJCDQY1BjkG"
           "LQZRB"
           "lUEPCB8zWDCYMxgDZZkZhgJgHDibAY8JB/A=",
       }) {
    std::string error;
    EXPECT_FALSE(decodeBase64Histogram(crafted, &error)) << crafted;
    EXPECT_FALSE(error.empty()) << crafted;
  }
  EXPECT_NE(decodeError(std::string("\x1c\x84\x93\x12\0\0\0\0", 8)).find("V1"), std::string::npos);
  EXPECT_NE(decodeError(std::string("\x1c\x84\x93\x09\0\0\0\0", 8)).find("V0"), std::string::npos);
  EXPECT_NE(decodeError("GIF89a, not a histogram").find("cookie"), std::string::npos);
}

TEST(HdrCodec, RefusesEveryTruncation) {
  const std::string v2 = encodeV2(rawHistogram());
  const std::string compressed = encodeCompressed(rawHistogram());
  for (size_t n = 0; n < v2.size(); ++n) {
    decodeError(std::string_view(v2).substr(0, n));
  }
  for (size_t n = 0; n < compressed.size(); ++n) {
    decodeError(std::string_view(compressed).substr(0, n));
  }
  // Truncated inside the zlib stream, with the length field saying so.
  std::string inner = compressed.substr(8, compressed.size() - 8 - 6);
  std::string shorter = compressed.substr(0, 4);
  putBigEndian(&shorter, inner.size(), 4);
  EXPECT_NE(decodeError(shorter + inner).find("ends before"), std::string::npos);
}

TEST(HdrCodec, RefusesLengthsThatDoNotMatch) {
  const std::string v2 = encodeV2(rawHistogram());
  // Bytes after the payload, and payload lengths beyond the input or negative.
  decodeError(v2 + "x");
  for (uint32_t length : {0x7fffffffu, 0x80000000u, 0xffffffffu, 1000000u}) {
    std::string bad = v2;
    bad.replace(4, 4,
                std::string{static_cast<char>(length >> 24), static_cast<char>(length >> 16),
                            static_cast<char>(length >> 8), static_cast<char>(length)});
    decodeError(bad);
    decodeError(compress(bad));
  }
  // The compressed form's length field: huge, negative, short of the data, past it.
  for (int32_t length : {0x7fffffff, -1, -2147483647 - 1, 3}) {
    decodeError(compress(v2, length));
  }
  // Bytes after the zlib stream.
  std::string compressed = compress(v2);
  std::string trailing = compressed + "xyz";
  trailing.replace(4, 4, std::string{0, 0, 0, static_cast<char>(compressed.size() - 8 + 3)});
  EXPECT_NE(decodeError(trailing).find("follow the end"), std::string::npos);
}

TEST(HdrCodec, RefusesLayoutsBeyondTheLimits) {
  // Parameters HdrHistogram refuses.
  decodeError(v2Header(0, 0, 1, 1000));
  decodeError(v2Header(0, 6, 1, 1000));
  decodeError(v2Header(0, 3, 0, 1000));
  decodeError(v2Header(0, 3, -1, 1000));
  decodeError(v2Header(0, 3, 600, 1000));
  decodeError(v2Header(0, 3, 1, INT64_MIN));
  // Valid, but needing more counts than allowed: 5 digits over the whole int64 range would be
  // 66 MiB of counts, from a 40-byte header.
  EXPECT_NE(decodeError(v2Header(0, 5, 1, INT64_MAX)).find("limit"), std::string::npos);
  EXPECT_NE(decodeError(compress(v2Header(0, 5, 1, INT64_MAX))).find("limit"), std::string::npos);
  DecodeLimits small;
  small.max_counts = 1000;
  std::string error;
  EXPECT_FALSE(decodeHistogram(encodeV2(Histogram()), &error, small));
  EXPECT_NE(error.find("23552 counts"), std::string::npos) << error;
  // A payload longer than 9 bytes per count cannot be valid.
  EXPECT_NE(decodeError(v2Header(1000, 1, 1, 2) + std::string(1000, '\0')).find("longer than"),
            std::string::npos);
}

TEST(HdrCodec, RefusesCountsThatDoNotFitTheLayout) {
  // Layout 1..2 with 1 digit: 32 counts.
  auto v2 = [](std::string_view payload) {
    return v2Header(static_cast<int32_t>(payload.size()), 1, 1, 2) + std::string(payload);
  };
  std::string error;
  ASSERT_TRUE(decodeHistogram(v2("\x02"), &error)) << error;
  // A run of 33 zeros (ZigZag 65), then a count after 32 zeros (ZigZag 63, then 1).
  EXPECT_NE(decodeError(v2("\x41")).find("goes past"), std::string::npos);
  EXPECT_NE(decodeError(v2("\x3f\x02")).find("more counts"), std::string::npos);
  // A run of 2^63 zeros (ZigZag of INT64_MIN: nine bytes of all ones).
  EXPECT_NE(decodeError(v2("\xff\xff\xff\xff\xff\xff\xff\xff\xff")).find("2^63"),
            std::string::npos);
  // A count whose last byte still has the continuation bit.
  EXPECT_NE(decodeError(v2("\x02\x80")).find("ends inside"), std::string::npos);
  // Two counts of 2^63 - 1: their sum does not fit.
  std::string max = "\xfe\xff\xff\xff\xff\xff\xff\xff\xff";
  ASSERT_TRUE(decodeHistogram(v2(max), &error)) << error;
  EXPECT_NE(decodeError(v2(max + max)).find("2^63"), std::string::npos);
}

TEST(HdrCodec, RefusesZlibBombs) {
  // A header announcing a 10-byte payload, followed by 64 MiB of zeros: inflating must stop
  // one byte past the announced size.
  std::string v2 = v2Header(10, 3, 1, kHour) + std::string(64 << 20, '\0');
  std::string bomb = compress(v2);
  ASSERT_LT(bomb.size(), 100u * 1024);
  EXPECT_NE(decodeError(bomb).find("more than 50"), std::string::npos);
  // The same with a payload length as large as the layout allows.
  const int32_t most = 9 * 23552;
  bomb = compress(v2Header(most, 3, 1, kHour) + std::string(64 << 20, '\0'));
  EXPECT_NE(decodeError(bomb).find("more than"), std::string::npos);
  // And a stream that inflates to less than announced.
  EXPECT_NE(decodeError(compress(v2Header(100, 3, 1, kHour) + "\x02")).find("announces"),
            std::string::npos);
}

TEST(HdrCodec, RefusesCorruptZlibData) {
  std::string compressed = encodeCompressed(rawHistogram());
  for (size_t at = 8; at < compressed.size(); ++at) {
    std::string bad = compressed;
    bad[at] = static_cast<char>(bad[at] ^ 0x55);
    // Most flips break zlib's checks; a few give another valid histogram. None may crash.
    std::string error;
    std::optional<Histogram> h = decodeHistogram(bad, &error);
    EXPECT_TRUE(h.has_value() || !error.empty());
  }
  std::string error;
  std::string bad = compressed;
  bad[bad.size() - 1] = static_cast<char>(bad[bad.size() - 1] ^ 1);  // the Adler-32 checksum
  EXPECT_FALSE(decodeHistogram(bad, &error));
  EXPECT_NE(error.find("zlib"), std::string::npos) << error;
}

TEST(HdrCodec, RefusesBadBase64) {
  std::string good = encodeCompressedBase64(rawHistogram());
  for (std::string bad : {good.substr(1), good + "=", good + "AAAA", " " + good.substr(1),
                          good.substr(0, 8) + "*" + good.substr(9), std::string("====")}) {
    std::string error;
    EXPECT_FALSE(decodeBase64Histogram(bad, &error)) << bad;
    EXPECT_FALSE(error.empty());
  }
}

TEST(HdrBase64, EncodesAndDecodesRfc4648Vectors) {
  struct Case {
    const char* bytes;
    const char* text;
  };
  for (Case c : {Case{"", ""}, Case{"f", "Zg=="}, Case{"fo", "Zm8="}, Case{"foo", "Zm9v"},
                 Case{"foob", "Zm9vYg=="}, Case{"fooba", "Zm9vYmE="}, Case{"foobar", "Zm9vYmFy"},
                 Case{"any carnal pleasur", "YW55IGNhcm5hbCBwbGVhc3Vy"},
                 Case{"any carnal pleasure.", "YW55IGNhcm5hbCBwbGVhc3VyZS4="},
                 Case{"any carnal pleasure", "YW55IGNhcm5hbCBwbGVhc3VyZQ=="}}) {
    EXPECT_EQ(encodeBase64(c.bytes), c.text);
    std::string error;
    EXPECT_EQ(decodeBase64(c.text, &error), c.bytes) << error;
  }
  std::string all;
  for (int i = 0; i < 256; ++i) {
    all += static_cast<char>(i);
  }
  std::string error;
  EXPECT_EQ(decodeBase64(encodeBase64(all), &error), all);
}

TEST(HdrBase64, RefusesWhatIsNotBase64) {
  for (const char* bad : {"Zg=", "Zg", "Z", "Zm9v\n", "Zm 9", "Zm9-", "Zm9_", "=Zm9", "Z=m9",
                          "Zm=v", "Zg==Zg==", "===="}) {
    std::string error;
    EXPECT_FALSE(decodeBase64(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}
