#include "load/hdr_codec.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>
#include <vector>

#include "load/base64.h"

namespace portd::load {

namespace {

constexpr size_t kHeaderSize = 40;
constexpr size_t kCompressedHeaderSize = 8;
// A ZigZag LEB128 integer of 64 bits takes at most 9 bytes.
constexpr size_t kMaxBytesPerCount = 9;
// The cookies without their word-size nibble, which is what identifies an encoding.
constexpr uint32_t kCookieMask = ~uint32_t{0xf0};
constexpr uint32_t kV2Base = 0x1c849303;
constexpr uint32_t kV2CompressedBase = 0x1c849304;
constexpr uint32_t kV0Base = 0x1c849308;
constexpr uint32_t kV0CompressedBase = 0x1c849309;
constexpr uint32_t kV1Base = 0x1c849301;
constexpr uint32_t kV1CompressedBase = 0x1c849302;

void putBigEndian(std::string* out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

uint64_t getBigEndian(std::string_view in, size_t at, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) {
    value = value << 8 | static_cast<unsigned char>(in[at + static_cast<size_t>(i)]);
  }
  return value;
}

void putZigZag(std::string* out, int64_t signed_value) {
  uint64_t value =
      (static_cast<uint64_t>(signed_value) << 1) ^ static_cast<uint64_t>(signed_value >> 63);
  for (int i = 0; i < 8; ++i) {
    if (value >> 7 == 0) {
      out->push_back(static_cast<char>(value));
      return;
    }
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  // The ninth byte carries the last 8 bits whole, with no continuation bit.
  out->push_back(static_cast<char>(value));
}

// Reads one ZigZag LEB128 integer at `*pos`; false when `in` ends before it does.
bool getZigZag(std::string_view in, size_t* pos, int64_t* out) {
  uint64_t value = 0;
  for (int i = 0; i < 9; ++i) {
    if (*pos >= in.size()) {
      return false;
    }
    uint64_t byte = static_cast<unsigned char>(in[(*pos)++]);
    if (i == 8) {
      value |= byte << 56;
      break;
    }
    value |= (byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      break;
    }
  }
  *out = static_cast<int64_t>((value >> 1) ^ (~(value & 1) + 1));
  return true;
}

std::string hex(uint32_t value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) {
    out += kDigits[(value >> shift) & 0xf];
  }
  return out;
}

// Says what `cookie` is when it is not the one expected, for the error message.
std::string describeCookie(uint32_t cookie) {
  switch (cookie & kCookieMask) {
    case kV0Base:
    case kV0CompressedBase:
      return "an HdrHistogram V0 encoding (only V2 is supported)";
    case kV1Base:
    case kV1CompressedBase:
      return "an HdrHistogram V1 encoding (only V2 is supported)";
    default:
      return "not an HdrHistogram encoding (cookie " + hex(cookie) + ")";
  }
}

// The fields of a V2 header that decoding needs, checked.
struct Header {
  BucketLayout layout;
  size_t payload_length;
};

// Reads and checks the 40-byte header at the start of `bytes` (at least that long).
std::optional<Header> readHeader(std::string_view bytes, const DecodeLimits& limits,
                                 std::string* error) {
  uint32_t cookie = static_cast<uint32_t>(getBigEndian(bytes, 0, 4));
  if ((cookie & kCookieMask) != kV2Base) {
    *error = "V2 histogram: " + describeCookie(cookie);
    return std::nullopt;
  }
  auto payload_length = static_cast<int32_t>(getBigEndian(bytes, 4, 4));
  auto digits = static_cast<int32_t>(getBigEndian(bytes, 12, 4));
  auto lowest = static_cast<int64_t>(getBigEndian(bytes, 16, 8));
  auto highest = static_cast<int64_t>(getBigEndian(bytes, 24, 8));
  if (payload_length < 0) {
    *error = "V2 histogram: negative payload length " + std::to_string(payload_length);
    return std::nullopt;
  }
  std::string layout_error;
  std::optional<BucketLayout> layout = BucketLayout::make(lowest, highest, digits, &layout_error);
  if (!layout) {
    *error = "V2 histogram: " + layout_error;
    return std::nullopt;
  }
  if (layout->countsLength() > limits.max_counts) {
    *error = "V2 histogram: its layout (" + std::to_string(lowest) + ".." +
             std::to_string(highest) + ", " + std::to_string(digits) + " digits) needs " +
             std::to_string(layout->countsLength()) + " counts, more than the limit of " +
             std::to_string(limits.max_counts);
    return std::nullopt;
  }
  // Every entry of the payload takes at least one index, so a longer payload cannot be valid;
  // refusing it here also bounds what a compressed histogram may inflate to.
  size_t most = kMaxBytesPerCount * static_cast<size_t>(layout->countsLength());
  if (static_cast<size_t>(payload_length) > most) {
    *error = "V2 histogram: a payload of " + std::to_string(payload_length) +
             " bytes is longer than " + std::to_string(layout->countsLength()) + " counts can take";
    return std::nullopt;
  }
  return Header{*layout, static_cast<size_t>(payload_length)};
}

std::optional<Histogram> decodeV2(std::string_view bytes, const DecodeLimits& limits,
                                  std::string* error) {
  if (bytes.size() < kHeaderSize) {
    *error =
        "V2 histogram: " + std::to_string(bytes.size()) + " bytes, shorter than its 40-byte header";
    return std::nullopt;
  }
  std::optional<Header> header = readHeader(bytes, limits, error);
  if (!header) {
    return std::nullopt;
  }
  std::string_view payload = bytes.substr(kHeaderSize);
  if (payload.size() != header->payload_length) {
    *error = "V2 histogram: the header announces a payload of " +
             std::to_string(header->payload_length) + " bytes, " + std::to_string(payload.size()) +
             " follow it";
    return std::nullopt;
  }

  const int32_t length = header->layout.countsLength();
  std::vector<int64_t> counts(static_cast<size_t>(length), 0);
  int32_t index = 0;
  size_t pos = 0;
  while (pos < payload.size()) {
    size_t start = pos;
    int64_t value = 0;
    if (!getZigZag(payload, &pos, &value)) {
      *error = "V2 histogram: the payload ends inside the count at byte " + std::to_string(start);
      return std::nullopt;
    }
    if (value < 0) {
      // -value zero counts. INT64_MIN has no positive counterpart, and a run may not reach
      // past the layout.
      if (value == INT64_MIN || -value > length - index) {
        *error = "V2 histogram: a run of " +
                 (value == INT64_MIN ? "2^63" : std::to_string(-value)) + " zero counts at index " +
                 std::to_string(index) + " goes past the " + std::to_string(length) +
                 " counts of its layout";
        return std::nullopt;
      }
      index += static_cast<int32_t>(-value);
    } else {
      if (index >= length) {
        *error = "V2 histogram: more counts than the " + std::to_string(length) +
                 " of its layout (payload byte " + std::to_string(start) + ")";
        return std::nullopt;
      }
      counts[static_cast<size_t>(index++)] = value;
    }
  }
  std::string counts_error;
  std::optional<Histogram> h =
      Histogram::fromCounts(header->layout, std::move(counts), &counts_error);
  if (!h) {
    *error = "V2 histogram: " + counts_error;
  }
  return h;
}

// Owns a zlib inflate stream.
class Inflater {
 public:
  Inflater() { ok_ = inflateInit(&stream_) == Z_OK; }
  ~Inflater() {
    if (ok_) {
      inflateEnd(&stream_);
    }
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  bool ok() const { return ok_; }
  void setInput(std::string_view in) {
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    stream_.avail_in = static_cast<uInt>(in.size());
  }
  size_t inputLeft() const { return stream_.avail_in; }

  enum class Result { kEnd, kFull, kError };
  // Inflates into `out` until the stream ends or `out` holds `cap` bytes. Memory grows with
  // what zlib actually produces, 64 KiB at a time, never past `cap`: a small input that
  // claims a large payload costs nothing until it delivers the bytes.
  Result inflateInto(std::string* out, size_t cap, std::string* error) {
    while (true) {
      if (out->size() >= cap) {
        return Result::kFull;
      }
      size_t had = out->size();
      size_t room = std::min<size_t>(cap - had, 64 * 1024);
      out->resize(had + room);
      stream_.next_out = reinterpret_cast<Bytef*>(out->data() + had);
      stream_.avail_out = static_cast<uInt>(room);
      int rc = inflate(&stream_, Z_NO_FLUSH);
      out->resize(had + room - stream_.avail_out);
      if (rc == Z_STREAM_END) {
        return Result::kEnd;
      }
      if (rc == Z_OK) {
        continue;
      }
      // With room for output, Z_BUF_ERROR means that zlib wants more input than there is.
      if (rc == Z_BUF_ERROR) {
        *error = "the compressed data ends before the zlib stream does";
      } else {
        *error = std::string("zlib: ") + (stream_.msg != nullptr ? stream_.msg : zError(rc));
      }
      return Result::kError;
    }
  }

 private:
  z_stream stream_{};
  bool ok_ = false;
};

std::optional<Histogram> decodeCompressed(std::string_view bytes, const DecodeLimits& limits,
                                          std::string* error) {
  if (bytes.size() < kCompressedHeaderSize) {
    *error = "compressed histogram: " + std::to_string(bytes.size()) +
             " bytes, shorter than its 8-byte header";
    return std::nullopt;
  }
  auto compressed_length = static_cast<int32_t>(getBigEndian(bytes, 4, 4));
  std::string_view data = bytes.substr(kCompressedHeaderSize);
  if (compressed_length < 0 || static_cast<size_t>(compressed_length) != data.size()) {
    *error = "compressed histogram: the header announces " + std::to_string(compressed_length) +
             " bytes of compressed data, " + std::to_string(data.size()) + " follow it";
    return std::nullopt;
  }

  Inflater inflater;
  if (!inflater.ok()) {
    *error = "compressed histogram: zlib could not start inflating";
    return std::nullopt;
  }
  inflater.setInput(data);
  // First the header alone, so that the payload length it announces is checked against the
  // limits before any more is inflated.
  std::string v2;
  std::string zlib_error;
  Inflater::Result result = inflater.inflateInto(&v2, kHeaderSize, &zlib_error);
  if (result == Inflater::Result::kError) {
    *error = "compressed histogram: " + zlib_error;
    return std::nullopt;
  }
  if (v2.size() < kHeaderSize) {
    *error = "compressed histogram: it inflates to " + std::to_string(v2.size()) +
             " bytes, shorter than a 40-byte V2 header";
    return std::nullopt;
  }
  std::optional<Header> header = readHeader(v2, limits, error);
  if (!header) {
    *error = "compressed histogram: " + *error;
    return std::nullopt;
  }
  const size_t expected = kHeaderSize + header->payload_length;
  if (result != Inflater::Result::kEnd) {
    // One byte of room beyond what the header announces: a stream that fills it is longer
    // than announced (a zlib bomb, or garbage), and inflating stops there.
    result = inflater.inflateInto(&v2, expected + 1, &zlib_error);
    if (result == Inflater::Result::kError) {
      *error = "compressed histogram: " + zlib_error;
      return std::nullopt;
    }
  }
  if (v2.size() != expected || result != Inflater::Result::kEnd) {
    *error = "compressed histogram: it inflates to " +
             (v2.size() > expected ? "more than " + std::to_string(expected)
                                   : std::to_string(v2.size())) +
             " bytes where its V2 header announces " + std::to_string(expected);
    return std::nullopt;
  }
  if (inflater.inputLeft() != 0) {
    *error = "compressed histogram: " + std::to_string(inflater.inputLeft()) +
             " bytes follow the end of the zlib stream";
    return std::nullopt;
  }
  std::optional<Histogram> h = decodeV2(v2, limits, error);
  if (!h) {
    *error = "compressed histogram: " + *error;
  }
  return h;
}

}  // namespace

std::string encodeV2(const Histogram& histogram) {
  const BucketLayout& layout = histogram.layout();
  // Up to the highest index with a count (index 0 for an empty histogram), as Java writes it.
  const int32_t limit = layout.indexOf(histogram.max()) + 1;
  std::string payload;
  for (int32_t i = 0; i < limit;) {
    int64_t count = histogram.countAtIndex(i++);
    int64_t zeros = 0;
    if (count == 0) {
      zeros = 1;
      while (i < limit && histogram.countAtIndex(i) == 0) {
        ++zeros;
        ++i;
      }
    }
    // A lone zero is written as a count of 0, a longer run as its negated length, exactly as
    // Java's fillBufferFromCountsArray() does (HdrHistogram_c writes -1 for a lone zero; both
    // read the same).
    putZigZag(&payload, zeros > 1 ? -zeros : count);
  }

  std::string out;
  out.reserve(kHeaderSize + payload.size());
  putBigEndian(&out, kV2EncodingCookie, 4);
  putBigEndian(&out, payload.size(), 4);
  putBigEndian(&out, 0, 4);  // normalizing index offset
  putBigEndian(&out, static_cast<uint64_t>(layout.digits()), 4);
  putBigEndian(&out, static_cast<uint64_t>(layout.lowest()), 8);
  putBigEndian(&out, static_cast<uint64_t>(layout.highest()), 8);
  putBigEndian(&out, std::bit_cast<uint64_t>(1.0), 8);  // integer to double conversion ratio
  out += payload;
  return out;
}

std::string encodeCompressed(const Histogram& histogram) {
  const std::string v2 = encodeV2(histogram);
  uLongf compressed_length = compressBound(static_cast<uLong>(v2.size()));
  std::string out(kCompressedHeaderSize + compressed_length, '\0');
  int rc = compress2(reinterpret_cast<Bytef*>(out.data() + kCompressedHeaderSize),
                     &compressed_length, reinterpret_cast<const Bytef*>(v2.data()),
                     static_cast<uLong>(v2.size()), Z_BEST_COMPRESSION);
  // compress2() fails only for want of memory or of output space, and compressBound() is
  // the space it needs.
  if (rc != Z_OK) {
    throw std::bad_alloc();
  }
  out.resize(kCompressedHeaderSize + compressed_length);
  std::string header;
  putBigEndian(&header, kV2CompressedEncodingCookie, 4);
  putBigEndian(&header, compressed_length, 4);
  out.replace(0, kCompressedHeaderSize, header);
  return out;
}

std::string encodeCompressedBase64(const Histogram& histogram) {
  return encodeBase64(encodeCompressed(histogram));
}

std::optional<Histogram> decodeHistogram(std::string_view bytes, std::string* error,
                                         const DecodeLimits& limits) {
  if (bytes.size() < 4) {
    *error = "histogram: " + std::to_string(bytes.size()) + " bytes, too short for a cookie";
    return std::nullopt;
  }
  uint32_t cookie = static_cast<uint32_t>(getBigEndian(bytes, 0, 4));
  switch (cookie & kCookieMask) {
    case kV2Base:
      return decodeV2(bytes, limits, error);
    case kV2CompressedBase:
      return decodeCompressed(bytes, limits, error);
    default:
      *error = "histogram: " + describeCookie(cookie);
      return std::nullopt;
  }
}

std::optional<Histogram> decodeBase64Histogram(std::string_view text, std::string* error,
                                               const DecodeLimits& limits) {
  std::optional<std::string> bytes = decodeBase64(text, error);
  if (!bytes) {
    return std::nullopt;
  }
  return decodeHistogram(*bytes, error, limits);
}

}  // namespace portd::load
