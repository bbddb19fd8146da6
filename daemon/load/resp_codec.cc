#include "load/resp_codec.h"

#include <algorithm>
#include <cctype>

#include "load/options.h"

namespace portd::load {

namespace {

constexpr uint32_t kMaxWeight = 1000;
constexpr unsigned kMinKeyWidth = 6;
// The largest magnitude of a RESP integer: a 64-bit signed one, whose minimum is -2^63.
constexpr uint64_t kMaxMagnitude = uint64_t{1} << 63;
// Digits of a number, leading zeros included: what a 64-bit one needs and a few more.
constexpr unsigned kMaxDigits = 24;

constexpr std::array<std::string_view, kRespCommands> kCommandNames = {"get", "set", "ping", "incr",
                                                                       "del"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

bool equalsLower(std::string_view text, std::string_view lower) {
  return text.size() == lower.size() &&
         std::equal(text.begin(), text.end(), lower.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

unsigned decimalDigits(uint64_t v) {
  unsigned n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}

// splitmix64: spreads consecutive seeds over the whole state, which xorshift needs non-zero.
uint64_t mixSeed(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x != 0 ? x : 1;
}

}  // namespace

uint64_t RespMix::total() const {
  uint64_t t = 0;
  for (uint32_t w : weights) {
    t += w;
  }
  return t;
}

bool parseRespMix(std::string_view text, RespMix* out, std::string* error) {
  if (trim(text).empty()) {
    text = kDefaultRespMix;
  }
  RespMix mix;
  std::array<bool, kRespCommands> seen{};
  while (true) {
    const size_t comma = text.find(',');
    const std::string_view item = trim(text.substr(0, comma));
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      *error = "\"" + std::string(item) + "\": expected COMMAND=WEIGHT, e.g. get=8";
      return false;
    }
    const std::string_view name = trim(item.substr(0, eq));
    const std::string_view weight = trim(item.substr(eq + 1));
    size_t which = kRespCommands;
    for (size_t i = 0; i < kRespCommands; ++i) {
      if (equalsLower(name, kCommandNames[i])) {
        which = i;
      }
    }
    if (which == kRespCommands) {
      *error = "\"" + std::string(name) + "\": unknown command (get, set, ping, incr or del)";
      return false;
    }
    if (seen[which]) {
      *error = "\"" + std::string(name) + "\" appears twice";
      return false;
    }
    seen[which] = true;
    uint32_t w = 0;
    bool digits = !weight.empty() && weight.size() <= 4;
    for (char ch : weight) {
      digits = digits && ch >= '0' && ch <= '9';
      w = w * 10 + static_cast<uint32_t>(ch - '0');
    }
    if (!digits || w > kMaxWeight) {
      *error = "\"" + std::string(item) + "\": the weight is a whole number from 0 to " +
               std::to_string(kMaxWeight);
      return false;
    }
    mix.weights[which] = w;
    if (comma == std::string_view::npos) {
      break;
    }
    text.remove_prefix(comma + 1);
  }
  if (mix.total() == 0) {
    *error = "every weight is 0: nothing to send";
    return false;
  }
  *out = mix;
  return true;
}

// ---- replies

RespReplyParser::RespReplyParser(const Limits& limits) : limits_(limits) {
  limits_.max_depth = std::min(limits_.max_depth, kMaxDepth);
}

void RespReplyParser::reset() {
  state_ = State::kType;
  in_reply_ = false;
  error_reply_ = false;
  depth_ = 0;
}

RespReplyParser::Status RespReplyParser::fail(size_t at, size_t* used) {
  state_ = State::kFailed;
  *used = at;
  return Status::kMalformed;
}

bool RespReplyParser::elementDone() {
  state_ = State::kType;
  while (depth_ > 0) {
    if (--left_[depth_ - 1] > 0) {
      return false;
    }
    --depth_;
  }
  in_reply_ = false;
  return true;
}

RespReplyParser::Status RespReplyParser::feed(std::string_view in, size_t* used) {
  size_t i = 0;
  while (i < in.size()) {
    const char ch = in[i];
    switch (state_) {
      case State::kFailed:
        return fail(i, used);

      case State::kType:
        if (depth_ == 0) {
          in_reply_ = true;
          error_reply_ = ch == '-';
        }
        ++i;
        line_ = 0;
        switch (ch) {
          case '+':
          case '-':
            state_ = State::kLine;
            break;
          case ':':
            number_ = Number::kInteger;
            state_ = State::kNumStart;
            break;
          case '$':
            number_ = Number::kBulkLength;
            state_ = State::kNumStart;
            break;
          case '*':
            number_ = Number::kArrayLength;
            state_ = State::kNumStart;
            break;
          default:
            return fail(i - 1, used);  // RESP3 types, inline text: not RESP2 replies
        }
        break;

      case State::kLine: {
        // Text up to CRLF; neither CR nor LF may appear in it.
        size_t j = i;
        while (j < in.size() && in[j] != '\r' && in[j] != '\n') {
          ++j;
        }
        if (line_ + (j - i) > limits_.max_line) {
          // At the first byte over the limit, wherever the pieces were cut.
          return fail(i + static_cast<size_t>(limits_.max_line - line_), used);
        }
        line_ += j - i;
        i = j;
        if (i < in.size()) {
          if (in[i] == '\n') {
            return fail(i, used);
          }
          ++i;
          state_ = State::kLineLf;
        }
        break;
      }

      case State::kLineLf:
        if (ch != '\n') {
          return fail(i, used);
        }
        ++i;
        if (elementDone()) {
          *used = i;
          return Status::kReply;
        }
        break;

      case State::kNumStart:
        negative_ = false;
        value_ = 0;
        digits_ = 0;
        if (ch == '-') {
          negative_ = true;
          ++i;
          state_ = State::kNumDigit;
          break;
        }
        state_ = State::kNumDigit;
        [[fallthrough]];
      case State::kNumDigit:
        if (ch < '0' || ch > '9') {
          return fail(i, used);
        }
        state_ = State::kNum;
        [[fallthrough]];
      case State::kNum:
        if (ch >= '0' && ch <= '9') {
          const auto d = static_cast<uint64_t>(ch - '0');
          if (++digits_ > kMaxDigits || value_ > (kMaxMagnitude - d) / 10) {
            return fail(i, used);
          }
          value_ = value_ * 10 + d;
          ++i;
        } else if (ch == '\r') {
          ++i;
          state_ = State::kNumLf;
        } else {
          return fail(i, used);
        }
        break;

      case State::kNumLf:
        if (ch != '\n') {
          return fail(i, used);
        }
        ++i;
        if (number_ == Number::kInteger) {
          if (!negative_ && value_ == kMaxMagnitude) {
            return fail(i - 1, used);  // 2^63 fits only as a negative number
          }
          if (elementDone()) {
            *used = i;
            return Status::kReply;
          }
          break;
        }
        if (negative_) {
          // -1 is the null bulk string or the null array; no other length is negative.
          if (value_ != 1) {
            return fail(i - 1, used);
          }
          if (elementDone()) {
            *used = i;
            return Status::kReply;
          }
          break;
        }
        if (number_ == Number::kBulkLength) {
          if (value_ > limits_.max_bulk) {
            return fail(i - 1, used);
          }
          remaining_ = value_;
          state_ = remaining_ == 0 ? State::kBulkCr : State::kBulk;
          break;
        }
        if (value_ > limits_.max_count) {
          return fail(i - 1, used);
        }
        if (value_ == 0) {
          if (elementDone()) {
            *used = i;
            return Status::kReply;
          }
          break;
        }
        if (depth_ >= limits_.max_depth) {
          return fail(i - 1, used);
        }
        left_[depth_++] = value_;
        state_ = State::kType;
        break;

      case State::kBulk: {
        // The bytes themselves are not looked at: a bulk string is binary-safe.
        const uint64_t n = std::min<uint64_t>(remaining_, in.size() - i);
        i += static_cast<size_t>(n);
        remaining_ -= n;
        if (remaining_ == 0) {
          state_ = State::kBulkCr;
        }
        break;
      }

      case State::kBulkCr:
        if (ch != '\r') {
          return fail(i, used);
        }
        ++i;
        state_ = State::kBulkLf;
        break;

      case State::kBulkLf:
        if (ch != '\n') {
          return fail(i, used);
        }
        ++i;
        if (elementDone()) {
          *used = i;
          return Status::kReply;
        }
        break;
    }
  }
  if (state_ == State::kFailed) {
    return fail(i, used);
  }
  *used = i;
  return Status::kNeedMore;
}

// ---- the codec

RespCodec::RespCodec(const LoadOptions& o, uint64_t seed)
    : value_size_(o.message_size),
      keys_(std::max<uint64_t>(o.keys, 1)),
      key_width_(std::max(kMinKeyWidth, decimalDigits(keys_ - 1))),
      rng_(mixSeed(seed)) {
  std::string why;
  if (!parseRespMix(o.mix, &mix_, &why)) {
    parseRespMix(kDefaultRespMix, &mix_, &why);  // the command line refused it already
  }
  const std::string key_len = std::to_string(4 + key_width_);
  const auto at = [](RespCommand c) { return static_cast<size_t>(c); };
  head_[at(RespCommand::kGet)] = "*2\r\n$3\r\nGET\r\n$" + key_len + "\r\nkey:";
  head_[at(RespCommand::kSet)] = "*3\r\n$3\r\nSET\r\n$" + key_len + "\r\nkey:";
  head_[at(RespCommand::kPing)] = "*1\r\n$4\r\nPING\r\n";
  head_[at(RespCommand::kIncr)] =
      "*2\r\n$4\r\nINCR\r\n$" + std::to_string(8 + key_width_) + "\r\ncounter:";
  head_[at(RespCommand::kDel)] = "*2\r\n$3\r\nDEL\r\n$" + key_len + "\r\nkey:";
  value_head_ = "\r\n$" + std::to_string(value_size_) + "\r\n";
  // Connections start at different points of the round, not all with the same command.
  const uint64_t skip = seed % mix_.total();
  for (uint64_t i = 0; i < skip; ++i) {
    next();
  }
}

void RespCodec::reset() {
  parser_.reset();
  outstanding_ = 0;
}

RespCommand RespCodec::next() {
  // Smooth weighted round robin (nginx's): each command gains its weight, the one ahead is
  // chosen and pays the total back. Over each round of `total` requests every command comes
  // exactly its weight's times, spread out rather than in runs.
  const auto total = static_cast<int64_t>(mix_.total());
  size_t best = kRespCommands;
  for (size_t i = 0; i < kRespCommands; ++i) {
    if (mix_.weights[i] == 0) {
      continue;
    }
    current_[i] += mix_.weights[i];
    if (best == kRespCommands || current_[i] > current_[best]) {
      best = i;
    }
  }
  current_[best] -= total;
  return static_cast<RespCommand>(best);
}

uint64_t RespCodec::nextKey() {
  // xorshift64*, then Lemire's multiply-shift onto [0, keys): no division, no modulo bias
  // worth the name.
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  const uint64_t r = rng_ * 0x2545f4914f6cdd1dull;
  return static_cast<uint64_t>((static_cast<unsigned __int128>(r) * keys_) >> 64);
}

void RespCodec::request(std::string& out) {
  const RespCommand c = next();
  out += head_[static_cast<size_t>(c)];
  if (c != RespCommand::kPing) {
    char digits[kMaxDigits];
    uint64_t k = nextKey();
    for (unsigned i = key_width_; i-- > 0;) {
      digits[i] = static_cast<char>('0' + k % 10);
      k /= 10;
    }
    out.append(digits, key_width_);
    if (c == RespCommand::kSet) {
      out += value_head_;
      out.append(value_size_, 'x');
    }
    out += "\r\n";
  }
  ++outstanding_;
}

Codec::Read RespCodec::read(std::string_view in, ResponseSink& sink) {
  while (!in.empty()) {
    if (!parser_.inReply()) {
      if (outstanding_ == 0) {
        return Read::kMalformed;  // a reply nobody asked for
      }
      sink.onFirstByte();
    }
    size_t used = 0;
    const RespReplyParser::Status s = parser_.feed(in, &used);
    if (s == RespReplyParser::Status::kMalformed) {
      return Read::kMalformed;
    }
    in.remove_prefix(used);
    if (s == RespReplyParser::Status::kReply) {
      --outstanding_;
      sink.onResponse(parser_.errorReply() ? kRespErrorReply : kRespReply);
    }
  }
  return Read::kOk;
}

}  // namespace portd::load
