#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "load/codec.h"

namespace portd::load {

// resp:// (Redis's protocol, RESP2): one request is one command of the mix, on a key of the
// key space; one answer is one reply, whatever its type.

// What RespCodec tells ResponseSink::onResponse(): a reply, or an error reply ("-ERR ...",
// which is an answer all the same, counted apart by the worker).
inline constexpr int kRespReply = 1;
inline constexpr int kRespErrorReply = 2;

enum class RespCommand : uint8_t { kGet, kSet, kPing, kIncr, kDel, kCount };
inline constexpr size_t kRespCommands = static_cast<size_t>(RespCommand::kCount);

// The command mix: each command's weight, out of their total.
struct RespMix {
  std::array<uint32_t, kRespCommands> weights{};
  uint64_t total() const;
};

// The mix when --mix is not given: as many GETs as SETs.
inline constexpr std::string_view kDefaultRespMix = "get=1,set=1";

// Parses --mix: "COMMAND=WEIGHT,..." with COMMAND one of get, set, ping, incr, del (each at
// most once), WEIGHT a whole number from 0 to 1000, at least one above 0; empty text is
// kDefaultRespMix. False with a message in *error. The command line checks the mix with this,
// so that a run never starts with one the codec would not understand.
bool parseRespMix(std::string_view text, RespMix* out, std::string* error);

// An incremental reader of RESP2 replies: simple strings, errors, integers, bulk strings (null
// included) and arrays (nested, null included). It keeps no reply's content, only where it is
// in one (the counts of the arrays it is inside, the bytes of a bulk string still to come), so
// its memory is fixed whatever it reads and it may be handed the bytes in any pieces. What
// RESP2 does not allow, and anything beyond the limits, is malformed: an answer that cannot be
// framed cannot be trusted to end where the next begins.
class RespReplyParser {
 public:
  struct Limits {
    uint64_t max_bulk = 512ull << 20;  // Redis's own proto-max-bulk-len default
    uint64_t max_count = 1ull << 24;   // elements of one array
    size_t max_depth = 32;             // arrays within arrays (at most kMaxDepth)
    size_t max_line = 64 << 10;        // a simple string or an error
  };
  static constexpr size_t kMaxDepth = 64;

  enum class Status { kNeedMore, kReply, kMalformed };

  RespReplyParser() : RespReplyParser(Limits{}) {}
  explicit RespReplyParser(const Limits& limits);

  // Reads `in` up to the end of one reply. *used is how many bytes it took: all of them for
  // kNeedMore, those up to the reply's last byte for kReply. kMalformed sticks until reset().
  Status feed(std::string_view in, size_t* used);
  // After kReply: whether the reply was an error (an error inside an array is not: the reply
  // is the array).
  bool errorReply() const { return error_reply_; }
  // Whether some bytes of a reply have been read and its end has not.
  bool inReply() const { return in_reply_; }
  void reset();

 private:
  enum class State : uint8_t {
    kType,
    kLine,      // a simple string's or an error's text
    kLineLf,    // its CR was read
    kNumStart,  // an integer, or a bulk string's or an array's length
    kNumDigit,  // after a '-': a digit must follow
    kNum,       // digits
    kNumLf,     // its CR was read
    kBulk,      // a bulk string's bytes
    kBulkCr,    // the CRLF after them
    kBulkLf,
    kFailed,
  };
  enum class Number : uint8_t { kInteger, kBulkLength, kArrayLength };

  Status fail(size_t at, size_t* used);
  // A whole element was read: counts it in the arrays it is in; true if that ends the reply.
  bool elementDone();

  Limits limits_;
  State state_ = State::kType;
  Number number_ = Number::kInteger;
  bool negative_ = false;
  bool in_reply_ = false;
  bool error_reply_ = false;
  unsigned digits_ = 0;
  uint64_t value_ = 0;
  uint64_t line_ = 0;       // bytes of the current simple string or error
  uint64_t remaining_ = 0;  // bytes of the current bulk string still to come
  size_t depth_ = 0;
  std::array<uint64_t, kMaxDepth> left_{};  // elements still to come in each open array
};

// resp://: requests are written straight into the connection's buffer from pieces rendered
// once (the command and the length of its key, then the key's digits, then the rest), so no
// request allocates. Commands follow the mix by smooth weighted round robin (exact
// proportions, evenly spread, no table); keys ("key:" and a zero-padded number below --keys,
// "counter:..." for INCR, so that INCR never meets a SET's value) come from a xorshift
// generator seeded per connection.
class RespCodec final : public Codec {
 public:
  // `seed`: distinct per connection, so that connections do not walk the keys in step.
  RespCodec(const LoadOptions& options, uint64_t seed);

  void request(std::string& out) override;
  Read read(std::string_view in, ResponseSink& sink) override;
  void reset() override;

 private:
  RespCommand next();
  uint64_t nextKey();

  RespMix mix_;
  std::array<int64_t, kRespCommands> current_{};  // smooth weighted round robin
  std::array<std::string, kRespCommands> head_;   // up to the key's digits (or all of PING)
  std::string value_head_;                        // SET: "\r\n$N\r\n" after the key
  size_t value_size_;
  uint64_t keys_;
  unsigned key_width_;
  uint64_t rng_;
  uint64_t outstanding_ = 0;
  RespReplyParser parser_;
};

}  // namespace portd::load
