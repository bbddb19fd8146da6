// stream:// and stream+tcp:// in `portd load`: the message format re-declared from
// docs/stream.md (header, length framing, cut anywhere), the sink codecs that ask for echoes,
// the receiving side's loss/duplicate/reorder/late accounting, and the URLs.

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "load/codec.h"
#include "load/stream_codec.h"
#include "load/stream_receiver.h"
#include "load/stream_wire.h"
#include "load/target.h"

namespace portd::load {
namespace {

// The bytes docs/stream.md gives for a header, written out by hand.
std::string docHeader(uint8_t flags, uint64_t seq, uint64_t send_ns) {
  std::string h = "PDST";
  h += '\x01';
  h += static_cast<char>(flags);
  h += std::string(2, '\0');
  for (int i = 7; i >= 0; --i) {
    h += static_cast<char>((seq >> (8 * i)) & 0xff);
  }
  for (int i = 7; i >= 0; --i) {
    h += static_cast<char>((send_ns >> (8 * i)) & 0xff);
  }
  return h;
}

std::string framed(const std::string& message) {
  std::string f(4, '\0');
  writeStreamLength(f.data(), static_cast<uint32_t>(message.size()));
  return f + message;
}

struct Recorder : ResponseSink {
  std::string events;  // F: first byte, R: response
  void onFirstByte() override { events += 'F'; }
  void onResponse(int) override { events += 'R'; }
};

TEST(LoadStreamWire, HeaderIsTheDocumentedBytes) {
  char out[kStreamHeader];
  writeStreamHeader(out, StreamHeader{kStreamEcho, 0x0102030405060708, 0x1112131415161718});
  EXPECT_EQ(std::string(out, kStreamHeader), docHeader(1, 0x0102030405060708, 0x1112131415161718));
  StreamHeader h;
  ASSERT_TRUE(readStreamHeader(docHeader(8, 42, 7) + "padding", &h));
  EXPECT_EQ(h.flags, 8);
  EXPECT_EQ(h.seq, 42u);
  EXPECT_EQ(h.send_ns, 7u);
}

TEST(LoadStreamWire, RefusesShortBadMagicAndOtherVersions) {
  StreamHeader h;
  const std::string good = docHeader(0, 1, 2);
  EXPECT_FALSE(readStreamHeader(good.substr(0, 23), &h));
  std::string magic = good;
  magic[3] = 'X';
  EXPECT_FALSE(readStreamHeader(magic, &h));
  std::string version = good;
  version[4] = 2;
  EXPECT_FALSE(readStreamHeader(version, &h));
  EXPECT_FALSE(readStreamHeader("", &h));
}

// Messages of 24, 25 and 100 bytes, framed, cut at every byte and one byte at a time.
TEST(LoadStreamWire, FrameReaderCutsMessagesWhereverTheReadsSplit) {
  const std::vector<size_t> sizes = {24, 25, 100};
  std::string wire;
  for (size_t i = 0; i < sizes.size(); ++i) {
    wire += framed(docHeader(0, i, 100 + i) + std::string(sizes[i] - kStreamHeader, 'x'));
  }
  auto readAll = [&](const std::vector<std::string_view>& pieces) {
    StreamFrameReader reader;
    std::vector<std::pair<uint64_t, uint32_t>> got;
    for (std::string_view in : pieces) {
      while (!in.empty()) {
        std::string_view header;
        uint32_t size = 0;
        const auto e = reader.next(&in, &header, &size);
        if (e == StreamFrameReader::Event::kNeedMore) {
          EXPECT_TRUE(in.empty());
          break;
        }
        EXPECT_EQ(e, StreamFrameReader::Event::kMessage);
        StreamHeader h;
        EXPECT_TRUE(readStreamHeader(header, &h));
        got.emplace_back(h.seq, size);
      }
    }
    EXPECT_TRUE(reader.atBoundary());
    return got;
  };
  const std::vector<std::pair<uint64_t, uint32_t>> expected = {{0, 24}, {1, 25}, {2, 100}};
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    const std::string_view w(wire);
    ASSERT_EQ(readAll({w.substr(0, cut), w.substr(cut)}), expected) << "cut " << cut;
  }
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < wire.size(); ++i) {
    bytes.push_back(std::string_view(wire).substr(i, 1));
  }
  EXPECT_EQ(readAll(bytes), expected);
}

TEST(LoadStreamWire, LengthsOutOfRangeAreBadFraming) {
  for (uint32_t len : {0u, 23u, 65537u, 0xffffffffu}) {
    std::string wire(4, '\0');
    writeStreamLength(wire.data(), len);
    wire += docHeader(0, 0, 0);
    StreamFrameReader reader;
    std::string_view in(wire);
    std::string_view header;
    uint32_t size = 0;
    EXPECT_EQ(reader.next(&in, &header, &size), StreamFrameReader::Event::kBadLength) << len;
  }
  // 65536 is the largest a message may be.
  std::string wire(4, '\0');
  writeStreamLength(wire.data(), 65536);
  wire += docHeader(0, 0, 0) + std::string(65536 - kStreamHeader, 'x');
  StreamFrameReader reader;
  std::string_view in(wire);
  std::string_view header;
  uint32_t size = 0;
  EXPECT_EQ(reader.next(&in, &header, &size), StreamFrameReader::Event::kMessage);
  EXPECT_EQ(size, 65536u);
}

// ---- stream:// (UDP sink)

TEST(LoadStreamDatagramCodec, AsksForAnEchoAndReadsItBack) {
  StreamDatagramCodec codec(100);
  EXPECT_TRUE(codec.perSocketSeq());
  std::string buf(65536, '\0');
  const size_t n = codec.request(buf.data(), buf.size(), 7, 1000, 2000);
  ASSERT_EQ(n, 100u);
  EXPECT_EQ(buf.substr(0, kStreamHeader), docHeader(kStreamEcho, 7, 2000));
  uint64_t seq = 0;
  int status = -1;
  ASSERT_TRUE(codec.answer(std::string_view(buf.data(), n), &seq, &status));
  EXPECT_EQ(seq, 7u);
  EXPECT_EQ(status, 0);
  // Shorter than sent, flags changed, or not the format: not an echo of ours.
  EXPECT_FALSE(codec.answer(std::string_view(buf.data(), n - 1), &seq, &status));
  std::string flags = buf.substr(0, n);
  flags[5] = 0;
  EXPECT_FALSE(codec.answer(flags, &seq, &status));
  std::string magic = buf.substr(0, n);
  magic[0] = 'X';
  EXPECT_FALSE(codec.answer(magic, &seq, &status));
  // Below the header's size, a request is the header.
  StreamDatagramCodec small(10);
  EXPECT_EQ(small.request(buf.data(), buf.size(), 0, 0, 0), kStreamHeader);
}

// ---- stream+tcp:// (TCP sink)

std::string requests(StreamCodec& codec, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    codec.request(out);
  }
  return out;
}

TEST(LoadStreamCodec, RequestsAreFramedNumberedAndAskForEchoes) {
  StreamCodec codec(64);
  const std::string wire = requests(codec, 2);
  ASSERT_EQ(wire.size(), 2 * (4 + 64u));
  for (uint64_t i = 0; i < 2; ++i) {
    const std::string_view m = std::string_view(wire).substr(i * 68, 68);
    EXPECT_EQ(m.substr(0, 4), std::string_view("\0\0\0\x40", 4));
    StreamHeader h;
    ASSERT_TRUE(readStreamHeader(m.substr(4), &h));
    EXPECT_EQ(h.flags, kStreamEcho);
    EXPECT_EQ(h.seq, i);
    EXPECT_GT(h.send_ns, 0u);
  }
}

TEST(LoadStreamCodec, EchoesSplitAtEveryByteAnswerInOrder) {
  StreamCodec reference(30);
  const std::string wire = requests(reference, 3);
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    StreamCodec codec(30);
    requests(codec, 3);
    Recorder r;
    ASSERT_EQ(codec.read(std::string_view(wire).substr(0, cut), r), Codec::Read::kOk) << cut;
    ASSERT_EQ(codec.read(std::string_view(wire).substr(cut), r), Codec::Read::kOk) << cut;
    EXPECT_EQ(r.events, "FRFRFR") << cut;
  }
}

TEST(LoadStreamCodec, WrongEchoesAreMismatchesBadFramesAndMagicAreErrors) {
  StreamCodec reference(30);
  const std::string wire = requests(reference, 2);
  Recorder r;
  {
    StreamCodec codec(30);
    requests(codec, 2);
    EXPECT_EQ(codec.read(wire.substr(34) + wire.substr(0, 34), r), Codec::Read::kMismatch);
  }
  {
    StreamCodec codec(30);
    requests(codec, 1);
    std::string w = wire.substr(0, 34);
    w[4 + 5] = 0;  // the echo flag dropped
    EXPECT_EQ(codec.read(w, r), Codec::Read::kMismatch);
  }
  {
    StreamCodec codec(30);
    requests(codec, 1);
    std::string w = wire.substr(0, 34);
    w[4] = 'X';
    EXPECT_EQ(codec.read(w, r), Codec::Read::kMalformed);
  }
  {
    StreamCodec codec(30);
    requests(codec, 1);
    EXPECT_EQ(codec.read(std::string("\0\0\0\x05", 4) + std::string(30, 'x'), r),
              Codec::Read::kBadFraming);
  }
  {
    StreamCodec codec(30);
    EXPECT_EQ(codec.read(wire.substr(0, 34), r), Codec::Read::kMalformed);  // nobody asked
  }
}

// ---- --subscribe: the receiving side

TEST(LoadReceiveTracker, InOrderStreamHasNothingMissing) {
  ReceiveTracker t;
  uint64_t lost = 0;
  for (uint64_t s = 0; s < 100; ++s) {
    ASSERT_EQ(t.add(s, 1000 * s, 1000 * s + 50, &lost), ReceiveTracker::Arrival::kFirst);
    ASSERT_EQ(lost, 0u);
  }
  EXPECT_EQ(t.finish(), 0u);
  EXPECT_EQ(t.received(), 100u);
  EXPECT_EQ(t.lost() + t.duplicated() + t.reordered() + t.late(), 0u);
  EXPECT_EQ(t.jitterNs(), 0.0);  // a constant transit time
}

TEST(LoadReceiveTracker, GapsDuplicatesReorderingAndLateness) {
  ReceiveTracker t;
  uint64_t lost = 0;
  // 0..99 without 10 and 11, 20 twice, 31 before 30.
  for (uint64_t s = 0; s < 100; ++s) {
    if (s == 10 || s == 11) {
      continue;
    }
    if (s == 30) {
      t.add(31, 0, 0, &lost);
      EXPECT_EQ(t.add(30, 0, 0, &lost), ReceiveTracker::Arrival::kFirst);
      ++s;
      continue;
    }
    t.add(s, 0, 0, &lost);
    if (s == 20) {
      EXPECT_EQ(t.add(20, 0, 0, &lost), ReceiveTracker::Arrival::kDuplicate);
    }
  }
  EXPECT_EQ(t.finish(), 2u);
  EXPECT_EQ(t.received(), 98u);
  EXPECT_EQ(t.lost(), 2u);
  EXPECT_EQ(t.duplicated(), 1u);
  EXPECT_EQ(t.reordered(), 1u);
  EXPECT_EQ(t.late(), 0u);
}

TEST(LoadReceiveTracker, LeavingTheWindowUnseenIsLostAndALaterArrivalLate) {
  ReceiveTracker t;
  uint64_t lost = 0;
  t.add(0, 0, 0, &lost);
  // 1 never comes within the window: a jump far beyond gives up on 1 .. jump-1.
  const uint64_t jump = 3 * ReceiveTracker::kWindow;
  EXPECT_EQ(t.add(jump, 0, 0, &lost), ReceiveTracker::Arrival::kFirst);
  EXPECT_EQ(lost, jump - ReceiveTracker::kWindow);
  EXPECT_EQ(t.add(1, 0, 0, &lost), ReceiveTracker::Arrival::kLate);
  EXPECT_EQ(t.finish(), ReceiveTracker::kWindow - 1);
  EXPECT_EQ(t.lost(), jump - 1);
  EXPECT_EQ(t.late(), 1u);
  EXPECT_EQ(t.add(UINT64_MAX, 0, 0, &lost), ReceiveTracker::Arrival::kLate);
  t.reset();
  EXPECT_EQ(t.add(0, 0, 0, &lost), ReceiveTracker::Arrival::kFirst);
  EXPECT_EQ(t.received(), 1u);
}

TEST(LoadReceiveTracker, JitterFollowsRfc3550) {
  ReceiveTracker t;
  uint64_t lost = 0;
  // Transit times 100, 116, 100: |D| = 16 twice: J = 1, then 1 + 15/16.
  t.add(0, 1000, 1100, &lost);
  t.add(1, 2000, 2116, &lost);
  EXPECT_DOUBLE_EQ(t.jitterNs(), 1.0);
  t.add(2, 3000, 3100, &lost);
  EXPECT_DOUBLE_EQ(t.jitterNs(), 1.0 + 15.0 / 16.0);
}

// ---- URLs

TEST(LoadStreamTarget, SchemesAndTheirTransports) {
  Target t;
  std::string error;
  ASSERT_TRUE(parseTarget("stream://127.0.0.1:5201", &t, &error)) << error;
  EXPECT_EQ(t.scheme, Scheme::kStream);
  EXPECT_TRUE(isDatagram(t.scheme));
  ASSERT_TRUE(parseTarget("stream+udp://127.0.0.1:5201", &t, &error)) << error;
  EXPECT_EQ(t.scheme, Scheme::kStream);
  ASSERT_TRUE(parseTarget("stream+tcp://[::1]:5201", &t, &error)) << error;
  EXPECT_EQ(t.scheme, Scheme::kStreamTcp);
  EXPECT_FALSE(isDatagram(t.scheme));
  EXPECT_FALSE(parseTarget("stream://127.0.0.1", &t, &error));
  EXPECT_NE(error.find("needs a port"), std::string::npos) << error;
  EXPECT_FALSE(parseTarget("stream+sctp://127.0.0.1:1", &t, &error));
  EXPECT_NE(error.find("unknown scheme"), std::string::npos) << error;
}

}  // namespace
}  // namespace portd::load
