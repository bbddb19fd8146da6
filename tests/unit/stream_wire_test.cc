// The stream handler's formats: its own header, its TCP length framing and sockperf's framing,
// each split at every byte; bitrate parsing; the address index's deletions.

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>

#include "handlers/stream/address_index.h"
#include "handlers/stream/bitrate.h"
#include "handlers/stream/wire.h"

namespace portd::handlers::stream {
namespace {

TEST(StreamHeader, RoundTripsAndIsBigEndian) {
  char buf[kHeaderSize];
  encodeHeader(Header{kFlagEcho, 0x0102030405060708ull, 0x1112131415161718ull}, buf);
  const std::string bytes(buf, sizeof buf);
  EXPECT_EQ(bytes.substr(0, 8), std::string("PDST\x01\x01\x00\x00", 8));
  EXPECT_EQ(bytes.substr(8, 8), "\x01\x02\x03\x04\x05\x06\x07\x08");
  EXPECT_EQ(bytes.substr(16, 8), "\x11\x12\x13\x14\x15\x16\x17\x18");
  Header h;
  ASSERT_TRUE(decodeHeader(bytes + "padding", &h));
  EXPECT_EQ(h.flags, kFlagEcho);
  EXPECT_EQ(h.seq, 0x0102030405060708ull);
  EXPECT_EQ(h.send_ns, 0x1112131415161718ull);
}

TEST(StreamHeader, RefusesShortWrongMagicAndOtherVersions) {
  char buf[kHeaderSize];
  encodeHeader(Header{}, buf);
  const std::string good(buf, sizeof buf);
  Header h;
  EXPECT_FALSE(decodeHeader(good.substr(0, kHeaderSize - 1), &h));
  std::string bad = good;
  bad[0] = 'X';
  EXPECT_FALSE(decodeHeader(bad, &h));
  bad = good;
  bad[4] = 2;
  EXPECT_FALSE(decodeHeader(bad, &h));
}

std::string streamFrame(uint64_t seq, size_t size) {
  std::string m(kLengthPrefix + size, 'p');
  storeBe(m.data(), size, kLengthPrefix);
  encodeHeader(Header{0, seq, 7}, m.data() + kLengthPrefix);
  return m;
}

std::string sockperfMessage(uint64_t seq, uint16_t flags, uint32_t size) {
  std::string m(size, 'x');
  storeBe(m.data(), seq, 8);
  storeBe(m.data() + 8, flags, 2);
  storeBe(m.data() + 10, size, 4);
  return m;
}

// Feeds `input` split at `cut` as a TCP reader would (the unconsumed rest kept and given again
// with the next bytes), returning the sizes of the messages found, or -1 for kInvalid.
template <typename Next>
std::vector<long> splitFeed(const std::string& input, size_t cut, Next next) {
  std::vector<long> found;
  std::string pending;
  for (const std::string& part : {input.substr(0, cut), input.substr(cut)}) {
    pending += part;
    std::string_view rest = pending;
    while (true) {
      const Frame f = next(rest);
      if (f.kind == Frame::Kind::kInvalid) {
        found.push_back(-1);
        return found;
      }
      if (f.kind == Frame::Kind::kNeedMore) {
        break;
      }
      found.push_back(static_cast<long>(f.size));
      rest.remove_prefix(f.size);
    }
    pending = std::string(rest);
  }
  EXPECT_TRUE(pending.empty());
  return found;
}

TEST(StreamFraming, SplitAtEveryByte) {
  const std::string input = streamFrame(1, 24) + streamFrame(2, 100) + streamFrame(3, 30);
  const std::vector<long> want = {28, 104, 34};
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    EXPECT_EQ(splitFeed(input, cut, nextStreamFrame), want) << "cut at " << cut;
  }
}

TEST(StreamFraming, LengthOutsideLimitsIsInvalid) {
  std::string m = streamFrame(1, 24);
  storeBe(m.data(), kHeaderSize - 1, kLengthPrefix);
  EXPECT_EQ(nextStreamFrame(m).kind, Frame::Kind::kInvalid);
  storeBe(m.data(), kMaxMessage + 1, kLengthPrefix);
  EXPECT_EQ(nextStreamFrame(m).kind, Frame::Kind::kInvalid);
  storeBe(m.data(), kMaxMessage, kLengthPrefix);
  EXPECT_EQ(nextStreamFrame(m).kind, Frame::Kind::kNeedMore);
}

TEST(SockperfFraming, SplitAtEveryByte) {
  const std::string input =
      sockperfMessage(1, 3, 14) + sockperfMessage(2, 1, 64) + sockperfMessage(3, 3, 20);
  const std::vector<long> want = {14, 64, 20};
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    EXPECT_EQ(splitFeed(input, cut, nextSockperfFrame), want) << "cut at " << cut;
  }
}

TEST(SockperfFraming, LengthBelowHeaderOrAboveLimitIsInvalid) {
  std::string small = sockperfMessage(1, 3, 14);
  storeBe(small.data() + 10, 13, 4);
  EXPECT_EQ(nextSockperfFrame(small).kind, Frame::Kind::kInvalid);
  std::string big = sockperfMessage(1, 3, 14);
  storeBe(big.data() + 10, kMaxMessage + 1, 4);
  EXPECT_EQ(nextSockperfFrame(big).kind, Frame::Kind::kInvalid);
}

TEST(SockperfFlags, AnsweredAsSockperfsServerDoes) {
  // Measured against sockperf 3.7's server: only client|pong without warm-up is answered.
  EXPECT_TRUE(sockperfWantsAnswer(3));
  EXPECT_TRUE(sockperfWantsAnswer(3 | 8));
  EXPECT_FALSE(sockperfWantsAnswer(1));  // throughput
  EXPECT_FALSE(sockperfWantsAnswer(2));  // a server's answer
  EXPECT_FALSE(sockperfWantsAnswer(7));  // warm-up
  EXPECT_FALSE(sockperfWantsAnswer(0));
  EXPECT_EQ(sockperfAnswerFlags(3), 2);
  EXPECT_EQ(sockperfAnswerFlags(11), 10);
}

TEST(Bitrate, ParsesUnits) {
  std::string error;
  EXPECT_EQ(parseBitrate("10Mbit/s", &error), 10000000u);
  EXPECT_EQ(parseBitrate("1.5Gbit/s", &error), 1500000000u);
  EXPECT_EQ(parseBitrate("800kbit/s", &error), 800000u);
  EXPECT_EQ(parseBitrate("64000bit/s", &error), 64000u);
  EXPECT_EQ(parseBitrate("100Gbit/s", &error), 100000000000u);
}

TEST(Bitrate, RefusesWithAReason) {
  std::string error;
  EXPECT_FALSE(parseBitrate("", &error));
  EXPECT_NE(error.find("number"), std::string::npos);
  EXPECT_FALSE(parseBitrate("10", &error));
  EXPECT_NE(error.find("unit"), std::string::npos);
  EXPECT_FALSE(parseBitrate("10MB/s", &error));
  EXPECT_NE(error.find("unknown unit \"MB/s\""), std::string::npos);
  EXPECT_FALSE(parseBitrate("999bit/s", &error));
  EXPECT_NE(error.find("between"), std::string::npos);
  EXPECT_FALSE(parseBitrate("101Gbit/s", &error));
  EXPECT_FALSE(parseBitrate("99999999999999999999999Gbit/s", &error));
  EXPECT_FALSE(parseBitrate("1e9bit/s", &error));
  EXPECT_FALSE(parseBitrate(" 5Mbit/s", &error));
  EXPECT_FALSE(parseBitrate("-5Mbit/s", &error));
}

PeerKey key(uint32_t ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(ip);
  a.sin_port = htons(port);
  PeerKey k;
  EXPECT_TRUE(keyOf(reinterpret_cast<const sockaddr*>(&a), &k));
  return k;
}

TEST(AddressIndex, FindsAfterManyInsertsAndErasures) {
  constexpr int kMax = 200;
  AddressIndex index(kMax);
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < kMax; ++i) {
      index.insert(key(0x7f000001u + static_cast<uint32_t>(i % 7), static_cast<uint16_t>(i)), i);
    }
    for (int i = 0; i < kMax; i += 2) {  // every other one leaves: probes must still reach the rest
      index.erase(key(0x7f000001u + static_cast<uint32_t>(i % 7), static_cast<uint16_t>(i)));
    }
    for (int i = 0; i < kMax; ++i) {
      const int want = i % 2 == 0 ? -1 : i;
      ASSERT_EQ(
          index.find(key(0x7f000001u + static_cast<uint32_t>(i % 7), static_cast<uint16_t>(i))),
          want)
          << "round " << round << " entry " << i;
    }
    for (int i = 1; i < kMax; i += 2) {
      index.erase(key(0x7f000001u + static_cast<uint32_t>(i % 7), static_cast<uint16_t>(i)));
    }
  }
}

}  // namespace
}  // namespace portd::handlers::stream
