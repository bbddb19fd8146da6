// Fuzz target for what `portd load stream+tcp://` and `stream:// --subscribe` read from a
// server (daemon/load/stream_wire.h, stream_codec.h, stream_receiver.h): the input is a TCP
// byte stream in the stream format (4-byte length, header, padding). It is cut into messages
// by StreamFrameReader whole, in two heap copies split at a position derived from the input,
// and (up to 1 KiB) one byte at a time; the headers it finds go to a ReceiveTracker; and
// StreamCodec, asked for as many echoes as there are messages, reads it. Any broken invariant
// aborts:
//  - the reader consumes only what it is given, returns kNeedMore only with all of it used,
//    every message is 24 to 65536 bytes, and a bad length ends the reading;
//  - the messages (sizes and headers) and where the length turns bad are the same wherever
//    the input is split;
//  - the tracker's received + duplicated + late equals the headers given it, and its lost
//    never exceeds the numbers below the highest seen;
//  - the codec reports at most as many answers as it was asked, each after a first byte.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "load/stream_codec.h"
#include "load/stream_receiver.h"
#include "load/stream_wire.h"

using namespace portd::load;

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_stream_load: invariant broken: %s\n", what);
    std::abort();
  }
}

struct Message {
  uint32_t size;
  std::string header;
  bool operator==(const Message&) const = default;
};

struct Outcome {
  std::vector<Message> messages;
  bool bad_length = false;
  bool operator==(const Outcome&) const = default;
};

Outcome cut(const std::vector<std::string_view>& pieces) {
  StreamFrameReader reader;
  Outcome out;
  for (std::string_view piece : pieces) {
    // A heap copy of its own, so that AddressSanitizer sees a look past its end.
    const std::unique_ptr<char[]> copy(new char[piece.size() + 1]);
    std::copy(piece.begin(), piece.end(), copy.get());
    std::string_view in(copy.get(), piece.size());
    while (!in.empty()) {
      const size_t before = in.size();
      std::string_view header;
      uint32_t size = 0;
      const StreamFrameReader::Event e = reader.next(&in, &header, &size);
      check(in.size() <= before, "consumed more than given");
      if (e == StreamFrameReader::Event::kNeedMore) {
        check(in.empty(), "asked for more with bytes left");
        break;
      }
      if (e == StreamFrameReader::Event::kBadLength) {
        out.bad_length = true;
        return out;
      }
      check(size >= kStreamHeader && size <= kStreamMaxMessage, "a message of a bad size");
      check(header.size() == kStreamHeader, "a header of another size");
      out.messages.push_back(Message{size, std::string(header)});
    }
  }
  return out;
}

struct Sink : ResponseSink {
  size_t first_bytes = 0;
  size_t answers = 0;
  void onFirstByte() override { ++first_bytes; }
  void onResponse(int) override {
    ++answers;
    check(first_bytes >= answers, "an answer without its first byte");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const Outcome whole = cut({input});
  if (input.size() >= 2) {
    uint32_t hash = 2166136261u;  // FNV-1a: a split point that depends on every byte
    for (unsigned char c : input) {
      hash = (hash ^ c) * 16777619u;
    }
    const size_t at = 1 + hash % (input.size() - 1);
    check(cut({input.substr(0, at), input.substr(at)}) == whole,
          "two pieces cut differently from the whole");
  }
  if (input.size() <= 1024) {
    std::vector<std::string_view> bytes;
    for (size_t i = 0; i < input.size(); ++i) {
      bytes.push_back(input.substr(i, 1));
    }
    check(cut(bytes) == whole, "one byte at a time cut differently");
  }

  ReceiveTracker tracker;
  uint64_t given = 0;
  uint64_t highest = 0;
  for (const Message& m : whole.messages) {
    StreamHeader h;
    if (!readStreamHeader(m.header, &h)) {
      continue;
    }
    uint64_t lost = 0;
    tracker.add(h.seq, h.send_ns, 0, &lost);
    ++given;
    highest = std::max(highest, h.seq);
  }
  tracker.finish();
  check(tracker.received() + tracker.duplicated() + tracker.late() == given,
        "the tracker lost count of the headers");
  check(tracker.lost() <= highest, "more lost than numbers below the highest");

  // The codec's own messages are 64 bytes; whatever the server sent, it never answers more
  // than it asked for.
  StreamCodec codec(64);
  std::string out;
  for (size_t i = 0; i < whole.messages.size(); ++i) {
    codec.request(out);
  }
  Sink sink;
  const std::string copy(input);
  codec.read(copy, sink);
  check(sink.answers <= whole.messages.size(), "more answers than requests");
  return 0;
}
