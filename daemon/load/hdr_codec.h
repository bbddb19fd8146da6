#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "load/histogram.h"

namespace portd::load {

// HdrHistogram's V2 encoding, byte for byte as the Java original and HdrHistogram_c write it,
// so that histograms go to and from any HdrHistogram implementation (HistogramLogProcessor,
// HdrHistogram plotters, hdr_decoder).
//
// Uncompressed form, big-endian:
//   cookie 0x1c849313 (4 bytes), payload length (int32), normalizing index offset (int32, 0),
//   significant digits (int32), lowest discernible value (int64), highest trackable value
//   (int64), integer to double conversion ratio (IEEE double, 1.0): 40 bytes, then the payload,
//   the counts from index 0 to the highest index with a count, each a ZigZag LEB128 integer
//   (at most 9 bytes, the ninth carrying 8 bits), a run of two or more zero counts written as
//   its length negated.
// Compressed form: cookie 0x1c849314, the length of what follows (int32), then the
// uncompressed form deflated by zlib (with its zlib header; level 9, as HistogramLogWriter
// uses).
//
// The cookies' 0x10 bit is the "word size" of older encodings; readers ignore that nibble,
// and so does the decoder here. The normalizing index offset and the conversion ratio matter
// only to shifted and floating-point histograms, which portd has not: the decoder reads the
// counts in index order, as Java's does, and ignores both.
inline constexpr uint32_t kV2EncodingCookie = 0x1c849313;
inline constexpr uint32_t kV2CompressedEncodingCookie = 0x1c849314;

// What a decoder accepts from input it cannot trust. Every other size is derived from these
// and from the input's length.
struct DecodeLimits {
  // The most counts a decoded histogram's layout may need: 2^21 (16 MiB of counts) holds
  // 1 µs to 1 h with 5 significant digits, jHiccup's nanosecond histograms need 33792.
  int32_t max_counts = 1 << 21;
};

// The uncompressed V2 form of `histogram`.
std::string encodeV2(const Histogram& histogram);
// The compressed V2 form.
std::string encodeCompressed(const Histogram& histogram);
// The compressed V2 form in base64: what an interval log line carries ("HISTFAAA...").
std::string encodeCompressedBase64(const Histogram& histogram);

// Decodes either V2 form (told apart by the cookie), or returns nullopt with `error` saying
// what is wrong. The input is treated as hostile: every length, count, index and run of zeros
// is checked against the input's size, the layout and `limits`, and zlib's output against the
// length the header announces, so that no input makes it read out of bounds, allocate more
// than the limits allow or loop without end.
std::optional<Histogram> decodeHistogram(std::string_view bytes, std::string* error,
                                         const DecodeLimits& limits = {});
// Base64 text, then decodeHistogram().
std::optional<Histogram> decodeBase64Histogram(std::string_view text, std::string* error,
                                               const DecodeLimits& limits = {});

}  // namespace portd::load
