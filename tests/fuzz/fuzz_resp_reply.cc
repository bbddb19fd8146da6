// Fuzz target for resp://'s reply reader (daemon/load/resp_codec.h): the input is what a
// server sends. It is read whole, in two pieces split at a position derived from the input,
// and (up to 1 KiB) one byte at a time, under the default limits and under small ones. Any
// broken invariant aborts:
//  - feed() never reports more bytes used than it was given, uses all of them when it asks
//    for more, makes progress with every reply, and a malformed input stays malformed;
//  - the replies (where each ends, whether it is an error) and where the input turns out
//    malformed are the same wherever it is split;
//  - RespCodec, asked exactly that many requests, reports the same replies to its sink, a
//    first byte for each, and calls bytes beyond them malformed (nobody asked for them).
// Each piece is a heap copy of its own, so that AddressSanitizer catches a look past its end.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "load/options.h"
#include "load/resp_codec.h"

using portd::load::Codec;
using portd::load::LoadOptions;
using portd::load::RespCodec;
using portd::load::ResponseSink;
using portd::load::RespReplyParser;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_resp_reply: invariant broken: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) {
    fail(what);
  }
}

struct Reply {
  size_t end;  // offset in the input just past the reply
  bool error;
  bool operator==(const Reply&) const = default;
};

struct Outcome {
  std::vector<Reply> replies;
  bool malformed = false;
  size_t malformed_at = 0;
  bool partial = false;  // a reply begun and not ended
  bool operator==(const Outcome&) const = default;
};

Outcome parsePieces(const std::vector<std::string>& pieces, const RespReplyParser::Limits& l) {
  RespReplyParser parser(l);
  Outcome out;
  size_t base = 0;
  for (const std::string& piece : pieces) {
    std::string_view rest(piece);
    while (!rest.empty()) {
      size_t used = 0;
      const RespReplyParser::Status s = parser.feed(rest, &used);
      check(used <= rest.size(), "used more bytes than given");
      const size_t at = base + (piece.size() - rest.size()) + used;
      switch (s) {
        case RespReplyParser::Status::kNeedMore:
          check(used == rest.size(), "asked for more without using all it was given");
          check(parser.inReply(), "read bytes without being in a reply");
          break;
        case RespReplyParser::Status::kReply:
          check(used > 0, "a reply of no bytes");
          check(!parser.inReply(), "still in a reply after its end");
          out.replies.push_back(Reply{at, parser.errorReply()});
          break;
        case RespReplyParser::Status::kMalformed: {
          out.malformed = true;
          out.malformed_at = at;
          size_t again = 0;
          check(parser.feed("+OK\r\n", &again) == RespReplyParser::Status::kMalformed,
                "a malformed input went on");
          return out;
        }
      }
      rest.remove_prefix(used);
    }
    base += piece.size();
  }
  out.partial = parser.inReply();
  return out;
}

struct CountingSink : ResponseSink {
  size_t first_bytes = 0;
  std::vector<int> statuses;
  void onFirstByte() override { ++first_bytes; }
  void onResponse(int status) override { statuses.push_back(status); }
};

void checkCodec(std::string_view input, const Outcome& whole) {
  LoadOptions o;
  o.target.scheme = portd::load::Scheme::kResp;
  RespCodec codec(o, 1);
  std::string out;
  for (size_t i = 0; i < whole.replies.size(); ++i) {
    codec.request(out);
  }
  CountingSink sink;
  const std::string copy(input);
  const Codec::Read r = codec.read(copy, sink);
  check(sink.statuses.size() == whole.replies.size(), "the codec saw other replies");
  for (size_t i = 0; i < sink.statuses.size(); ++i) {
    const int expected =
        whole.replies[i].error ? portd::load::kRespErrorReply : portd::load::kRespReply;
    check(sink.statuses[i] == expected, "the codec reported another status");
  }
  check(sink.first_bytes >= sink.statuses.size(), "a reply without its first byte");
  const bool extra =
      !whole.replies.empty() ? whole.replies.back().end < input.size() : !input.empty();
  check((r == Codec::Read::kMalformed) == (whole.malformed || extra),
        "the codec took bytes nobody asked for, or refused good ones");
}

void run(std::string_view input, const RespReplyParser::Limits& limits, bool codec) {
  const Outcome whole = parsePieces({std::string(input)}, limits);
  if (input.size() >= 2) {
    // A split point that depends on every byte (FNV-1a), as in fuzz_http_request.
    uint32_t hash = 2166136261u;
    for (unsigned char c : input) {
      hash = (hash ^ c) * 16777619u;
    }
    const size_t at = 1 + hash % (input.size() - 1);
    const Outcome two =
        parsePieces({std::string(input.substr(0, at)), std::string(input.substr(at))}, limits);
    check(two == whole, "two pieces read differently from the whole input");
  }
  if (input.size() <= 1024) {
    std::vector<std::string> bytes;
    for (char c : input) {
      bytes.emplace_back(1, c);
    }
    check(parsePieces(bytes, limits) == whole, "one byte at a time read differently");
  }
  if (codec) {
    checkCodec(input, whole);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  run(input, RespReplyParser::Limits{}, true);
  // Limits a short input can reach.
  RespReplyParser::Limits small;
  small.max_bulk = 16;
  small.max_count = 4;
  small.max_depth = 3;
  small.max_line = 16;
  run(input, small, false);
  return 0;
}
