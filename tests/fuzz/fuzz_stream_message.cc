// Fuzz target for the stream handler's framing (daemon/handlers/stream/wire.h): the input is a
// TCP byte stream, read as the stream format (4-byte length, header, padding) and as sockperf's
// (its own length field), and also given to the seq tracker as the headers it carries. It is
// split into two heap copies at a position derived from the input, as a reader that keeps a
// partial message would see it. Any broken invariant aborts:
//  - a frame is never longer than the bytes given nor shorter than its format's header, nor
//    longer than kMaxMessage plus the prefix;
//  - the frames (their sizes, and where the input turns invalid) are the same wherever the
//    input is split;
//  - decoded headers re-encode to the same bytes; the tracker's received count plus
//    duplicates plus late arrivals equals the headers given, and nothing is lost twice.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/stream/seq_tracker.h"
#include "handlers/stream/wire.h"

using namespace portd::handlers::stream;

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_stream_message: invariant broken: %s\n", what);
    std::abort();
  }
}

// Frame sizes, then -1 if the input turned invalid, reading `parts` in order with the
// unconsumed rest carried over.
template <typename Next>
std::vector<long> frames(const std::vector<std::string>& parts, Next next, size_t min_size,
                         size_t max_size) {
  std::vector<long> found;
  std::string pending;
  for (const std::string& part : parts) {
    pending += part;
    // A heap copy of exactly the bytes at hand, so that a look past its end is caught.
    std::unique_ptr<char[]> copy(new char[pending.size() + 1]);
    std::copy(pending.begin(), pending.end(), copy.get());
    std::string_view rest(copy.get(), pending.size());
    while (true) {
      const Frame f = next(rest);
      if (f.kind == Frame::Kind::kInvalid) {
        found.push_back(-1);
        return found;
      }
      if (f.kind == Frame::Kind::kNeedMore) {
        break;
      }
      check(f.size <= rest.size(), "frame longer than the input");
      check(f.size >= min_size && f.size <= max_size, "frame size outside its limits");
      found.push_back(static_cast<long>(f.size));
      rest.remove_prefix(f.size);
    }
    pending = std::string(rest);
  }
  return found;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t cut = size == 0 ? 0 : data[0] % (size + 1);
  const std::vector<std::string> whole = {input};
  const std::vector<std::string> split = {input.substr(0, cut), input.substr(cut)};

  check(
      frames(whole, nextStreamFrame, kLengthPrefix + kHeaderSize, kLengthPrefix + kMaxMessage) ==
          frames(split, nextStreamFrame, kLengthPrefix + kHeaderSize, kLengthPrefix + kMaxMessage),
      "stream frames depend on the split");
  check(frames(whole, nextSockperfFrame, kSockperfHeader, kMaxMessage) ==
            frames(split, nextSockperfFrame, kSockperfHeader, kMaxMessage),
        "sockperf frames depend on the split");

  // Every 24 bytes read as a header (magic forced), fed to the tracker.
  SeqTracker tracker;
  uint64_t given = 0;
  for (size_t at = 0; at + kHeaderSize <= size; at += kHeaderSize) {
    std::string h = input.substr(at, kHeaderSize);
    h.replace(0, 5, "PDST\x01");
    Header header;
    check(decodeHeader(h, &header), "a header with the magic refused");
    char again[kHeaderSize];
    encodeHeader(header, again);
    h[6] = h[7] = 0;
    check(std::string_view(again, kHeaderSize) == h, "header does not round-trip");
    // Sequence numbers kept near each other now and then, so that the window is exercised.
    const uint64_t seq = (data[at + 8] & 1) != 0 ? header.seq % 4096 : header.seq;
    tracker.add(seq, kHeaderSize, static_cast<int64_t>(header.send_ns), static_cast<int64_t>(at));
    ++given;
  }
  const StreamStats open = tracker.stats();
  check(open.received + open.duplicated + open.late == given, "headers unaccounted for");
  tracker.finish();
  check(tracker.stats().lost >= open.lost, "loss went down");
  return 0;
}
