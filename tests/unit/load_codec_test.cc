// What `portd load` sends and how it reads the answers: target URLs (load/target.h), the tcp://
// echo codec, the http:// codec on canned responses, and the udp:// datagram tracker.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "load/datagram.h"
#include "load/echo_codec.h"
#include "load/http_codec.h"
#include "load/options.h"
#include "load/sockperf_codec.h"
#include "load/target.h"

namespace portd::load {
namespace {

// ---- parseTarget

uint16_t sockaddrPort(const Target& t) {
  if (t.address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&t.address)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&t.address)->sin_port);
}

TEST(LoadTarget, HttpDefaultsToPort80AndPathSlash) {
  Target t;
  std::string error;
  ASSERT_TRUE(parseTarget("http://127.0.0.1", &t, &error)) << error;
  EXPECT_EQ(t.scheme, Scheme::kHttp);
  EXPECT_EQ(t.host, "127.0.0.1");
  EXPECT_EQ(t.port, 80);
  EXPECT_EQ(t.path, "/");
  EXPECT_EQ(t.address.ss_family, AF_INET);
  EXPECT_EQ(sockaddrPort(t), 80);
  EXPECT_EQ(t.url, "http://127.0.0.1");
}

TEST(LoadTarget, HttpKeepsPathAndQuery) {
  Target t;
  std::string error;
  ASSERT_TRUE(parseTarget("http://127.0.0.1:8080/echo?size=10&status=200", &t, &error)) << error;
  EXPECT_EQ(t.port, 8080);
  EXPECT_EQ(sockaddrPort(t), 8080);
  EXPECT_EQ(t.path, "/echo?size=10&status=200");
}

TEST(LoadTarget, Ipv6LiteralInBrackets) {
  Target t;
  std::string error;
  ASSERT_TRUE(parseTarget("tcp://[::1]:7000", &t, &error)) << error;
  EXPECT_EQ(t.scheme, Scheme::kTcp);
  EXPECT_EQ(t.host, "::1");  // without the brackets
  EXPECT_EQ(t.port, 7000);
  EXPECT_EQ(t.address.ss_family, AF_INET6);
  EXPECT_EQ(sockaddrPort(t), 7000);

  ASSERT_TRUE(parseTarget("http://[::1]/x", &t, &error)) << error;
  EXPECT_EQ(t.port, 80);
  EXPECT_EQ(t.path, "/x");
}

TEST(LoadTarget, UdpWithPort) {
  Target t;
  std::string error;
  ASSERT_TRUE(parseTarget("udp://127.0.0.1:5353", &t, &error)) << error;
  EXPECT_EQ(t.scheme, Scheme::kUdp);
  EXPECT_EQ(t.port, 5353);
  // A lone slash is no path.
  ASSERT_TRUE(parseTarget("tcp://127.0.0.1:7/", &t, &error)) << error;
  EXPECT_EQ(t.port, 7);
}

// Each refused URL and a word its message must contain, so that the user learns what is wrong.
struct BadUrl {
  const char* url;
  const char* says;
};

TEST(LoadTarget, RefusesBadUrlsWithAMessage) {
  for (const BadUrl& bad : {
           BadUrl{"127.0.0.1:80", "not a URL"},
           BadUrl{"", "not a URL"},
           BadUrl{"tcp://127.0.0.1", "needs a port"},
           BadUrl{"udp://127.0.0.1", "needs a port"},
           BadUrl{"tcp://[::1]", "needs a port"},
           BadUrl{"ftp://127.0.0.1:21/", "unknown scheme"},
           BadUrl{"HTTP2://127.0.0.1:80/", "unknown scheme"},
           BadUrl{"https://127.0.0.1/", "https"},
           BadUrl{"http://127.0.0.1:0/", "bad port"},
           BadUrl{"http://127.0.0.1:65536/", "bad port"},
           BadUrl{"http://127.0.0.1:-1/", "bad port"},
           BadUrl{"http://127.0.0.1:80x/", "bad port"},
           BadUrl{"tcp://127.0.0.1:http", "bad port"},
           BadUrl{"tcp://127.0.0.1:7000/path", "no path"},
           BadUrl{"udp://127.0.0.1:7000/x", "no path"},
           BadUrl{"http://:80/", "no host"},
           BadUrl{"http://[::1:80/", "'['"},
           BadUrl{"http://[::1]x/", "]"},
           BadUrl{"http://user@127.0.0.1/", "user information"},
       }) {
    Target t;
    t.host = "untouched";
    std::string error;
    EXPECT_FALSE(parseTarget(bad.url, &t, &error)) << bad.url;
    EXPECT_NE(error.find(bad.says), std::string::npos) << bad.url << ": " << error;
    EXPECT_EQ(t.host, "untouched") << bad.url;
  }
}

// ---- the codecs

// Records what a codec tells: 'F' for a first byte, the status for an answer.
class Recorder : public ResponseSink {
 public:
  void onFirstByte() override { events += 'F'; }
  void onResponse(int status) override {
    events += 'R';
    statuses.push_back(status);
  }

  std::string events;
  std::vector<int> statuses;
};

// The bytes of `n` requests from a fresh codec.
std::string requests(Codec& codec, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    codec.request(out);
  }
  return out;
}

std::string repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    out += s;
  }
  return out;
}

TEST(LoadEchoCodec, RequestsHaveTheSizeAskedAndDiffer) {
  EchoCodec codec(100);
  std::string one;
  codec.request(one);
  EXPECT_EQ(one.size(), 100u);
  std::string two;
  codec.request(two);
  EXPECT_EQ(two.size(), 100u);
  // The sequence number makes each request distinct, so that an echo of the wrong one shows.
  EXPECT_NE(one, two);
}

TEST(LoadEchoCodec, EchoSplitAtEveryByteGivesOneAnswerPerRequestInOrder) {
  constexpr int kRequests = 5;
  for (size_t size : {1u, 7u, 8u, 9u, 40u}) {
    EchoCodec reference(size);
    const std::string wire = requests(reference, kRequests);
    ASSERT_EQ(wire.size(), size * kRequests);
    for (size_t cut = 0; cut <= wire.size(); ++cut) {
      EchoCodec codec(size);
      ASSERT_EQ(requests(codec, kRequests), wire);
      Recorder r;
      ASSERT_EQ(codec.read(std::string_view(wire).substr(0, cut), r), Codec::Read::kOk)
          << "size " << size << " cut " << cut;
      ASSERT_EQ(codec.read(std::string_view(wire).substr(cut), r), Codec::Read::kOk)
          << "size " << size << " cut " << cut;
      ASSERT_EQ(r.events, repeat("FR", kRequests)) << "size " << size << " cut " << cut;
      EXPECT_EQ(r.statuses, std::vector<int>(kRequests, 0));
    }
    // One byte per read.
    EchoCodec codec(size);
    requests(codec, kRequests);
    Recorder r;
    for (char ch : wire) {
      ASSERT_EQ(codec.read(std::string_view(&ch, 1), r), Codec::Read::kOk) << "size " << size;
    }
    EXPECT_EQ(r.events, repeat("FR", kRequests)) << "size " << size;
  }
}

TEST(LoadEchoCodec, AnswersOutOfOrderAreAMismatch) {
  EchoCodec reference(16);
  const std::string wire = requests(reference, 2);
  const std::string swapped = wire.substr(16) + wire.substr(0, 16);
  EchoCodec codec(16);
  requests(codec, 2);
  Recorder r;
  EXPECT_EQ(codec.read(swapped, r), Codec::Read::kMismatch);
  EXPECT_EQ(r.statuses.size(), 0u);
}

TEST(LoadEchoCodec, AnyFlippedByteIsAMismatch) {
  constexpr size_t kSize = 20;
  EchoCodec reference(kSize);
  const std::string wire = requests(reference, 3);
  for (size_t at = 0; at < wire.size(); ++at) {
    std::string bad = wire;
    bad[at] = static_cast<char>(bad[at] ^ 0x01);
    EchoCodec codec(kSize);
    requests(codec, 3);
    Recorder r;
    EXPECT_EQ(codec.read(bad, r), Codec::Read::kMismatch) << "byte " << at;
    // The answers before the altered one were complete and right.
    EXPECT_EQ(r.statuses.size(), at / kSize) << "byte " << at;
  }
}

TEST(LoadEchoCodec, BytesNobodyAskedForAreMalformed) {
  EchoCodec reference(10);
  const std::string wire = requests(reference, 2);
  EchoCodec codec(10);
  requests(codec, 2);
  Recorder r;
  EXPECT_EQ(codec.read(wire + "x", r), Codec::Read::kMalformed);
  EXPECT_EQ(r.statuses.size(), 2u);

  EchoCodec idle(10);
  Recorder nothing;
  EXPECT_EQ(idle.read("x", nothing), Codec::Read::kMalformed);
  EXPECT_EQ(nothing.events, "");
}

TEST(LoadEchoCodec, ResetStartsTheSequenceAgain) {
  EchoCodec codec(12);
  const std::string first = requests(codec, 3);
  codec.reset();
  // After a reconnect the numbering restarts, so an echo of the old connection's bytes on
  // the new one would be caught, and the first request looks as on a fresh codec.
  EXPECT_EQ(requests(codec, 1), first.substr(0, 12));
  Recorder r;
  EXPECT_EQ(codec.read(first.substr(0, 12), r), Codec::Read::kOk);
  EXPECT_EQ(r.events, "FR");
}

LoadOptions httpOptions(const std::string& url, const std::string& method = "GET") {
  LoadOptions o;
  std::string error;
  EXPECT_TRUE(parseTarget(url, &o.target, &error)) << error;
  o.method = method;
  return o;
}

constexpr std::string_view kLength = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
constexpr std::string_view kChunked =
    "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
constexpr std::string_view kNotFound =
    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nServer: x\r\n\r\n";

// sockperf's server answers a request by clearing its "from a client" flag (byte 9: 3 -> 2).
std::string asSockperfServer(std::string wire, size_t size) {
  for (size_t at = 0; at < wire.size(); at += size) {
    wire[at + 9] = 2;
  }
  return wire;
}

TEST(LoadSockperfCodec, AnswersSplitAtEveryByteComeInOrder) {
  constexpr int kRequests = 4;
  for (size_t size : {14u, 15u, 64u}) {
    SockperfCodec reference(size);
    const std::string wire = requests(reference, kRequests);
    ASSERT_EQ(wire.size(), size * kRequests);
    // Network byte order: sequence number 1 in bytes 0..7, flags 3, the length.
    EXPECT_EQ(wire.substr(size, 14),
              std::string("\0\0\0\0\0\0\0\x01\0\x03\0\0\0", 13) + static_cast<char>(size));
    const std::string answers = asSockperfServer(wire, size);
    for (size_t cut = 0; cut <= answers.size(); ++cut) {
      SockperfCodec codec(size);
      requests(codec, kRequests);
      Recorder r;
      ASSERT_EQ(codec.read(std::string_view(answers).substr(0, cut), r), Codec::Read::kOk);
      ASSERT_EQ(codec.read(std::string_view(answers).substr(cut), r), Codec::Read::kOk);
      ASSERT_EQ(r.events, repeat("FR", kRequests)) << "size " << size << " cut " << cut;
    }
  }
}

TEST(LoadSockperfCodec, AnEchoOrAnAnswerOutOfOrderIsAMismatch) {
  SockperfCodec codec(20);
  const std::string wire = requests(codec, 2);
  Recorder r;
  // Sent back unchanged (the client flag still set), as a plain echo does.
  EXPECT_EQ(codec.read(wire, r), Codec::Read::kMismatch);

  SockperfCodec second(20);
  const std::string answers = asSockperfServer(requests(second, 2), 20);
  EXPECT_EQ(second.read(std::string_view(answers).substr(20), r), Codec::Read::kMismatch);

  SockperfDatagramCodec datagrams(32);
  char buf[64];
  const size_t n = datagrams.request(buf, sizeof buf, 77, 0, 0);
  ASSERT_EQ(n, 32u);
  uint64_t seq = 0;
  int status = -1;
  EXPECT_FALSE(datagrams.answer(std::string_view(buf, n), &seq, &status));
  buf[9] = 2;
  ASSERT_TRUE(datagrams.answer(std::string_view(buf, n), &seq, &status));
  EXPECT_EQ(seq, 77u);
  EXPECT_EQ(status, 0);
  // Cut short: the length in the header no longer matches.
  EXPECT_FALSE(datagrams.answer(std::string_view(buf, n - 1), &seq, &status));
}

TEST(LoadHttpCodec, RendersTheRequestOnce) {
  LoadOptions o = httpOptions("http://127.0.0.1:8080/echo?x=1", "POST");
  o.headers = {"X-Test: 1"};
  o.body = "abc";
  HttpCodec codec(o);
  std::string out;
  codec.request(out);
  EXPECT_EQ(out,
            "POST /echo?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-Test: 1\r\n"
            "Content-Length: 3\r\n\r\nabc");
  std::string two;
  codec.request(two);
  codec.request(two);
  EXPECT_EQ(two, out + out);
}

TEST(LoadHttpCodec, HostOfIpv6OnPort80) {
  HttpCodec codec(httpOptions("http://[::1]/"));
  std::string out;
  codec.request(out);
  EXPECT_EQ(out, "GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n");
}

TEST(LoadHttpCodec, ReadsContentLengthAndChunkedAnswers) {
  HttpCodec codec(httpOptions("http://127.0.0.1:8080/"));
  Recorder r;
  EXPECT_EQ(codec.read(kLength, r), Codec::Read::kOk);
  EXPECT_EQ(r.events, "FR");
  EXPECT_EQ(codec.read(kChunked, r), Codec::Read::kOk);
  EXPECT_EQ(r.events, "FRFR");
  EXPECT_EQ(r.statuses, (std::vector<int>{200, 201}));
  EXPECT_FALSE(codec.peerCloses());
}

TEST(LoadHttpCodec, PipelinedAnswersInOneRead) {
  HttpCodec codec(httpOptions("http://127.0.0.1:8080/"));
  Recorder r;
  EXPECT_EQ(codec.read(std::string(kLength) + std::string(kNotFound), r), Codec::Read::kOk);
  EXPECT_EQ(r.events, "FRFR");
  EXPECT_EQ(r.statuses, (std::vector<int>{200, 404}));
}

TEST(LoadHttpCodec, AnswersSplitAtEveryByte) {
  const std::string wire =
      std::string(kLength) + std::string(kChunked) + std::string(kNotFound) + std::string(kLength);
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    HttpCodec codec(httpOptions("http://127.0.0.1:8080/"));
    Recorder r;
    ASSERT_EQ(codec.read(std::string_view(wire).substr(0, cut), r), Codec::Read::kOk) << cut;
    ASSERT_EQ(codec.read(std::string_view(wire).substr(cut), r), Codec::Read::kOk) << cut;
    ASSERT_EQ(r.events, "FRFRFRFR") << "cut at " << cut;
    ASSERT_EQ(r.statuses, (std::vector<int>{200, 201, 404, 200})) << "cut at " << cut;
  }
  HttpCodec codec(httpOptions("http://127.0.0.1:8080/"));
  Recorder r;
  for (char ch : wire) {
    ASSERT_EQ(codec.read(std::string_view(&ch, 1), r), Codec::Read::kOk);
  }
  EXPECT_EQ(r.events, "FRFRFRFR");
}

TEST(LoadHttpCodec, InterimAnswersAreNotTheAnswer) {
  HttpCodec codec(httpOptions("http://127.0.0.1:8080/"));
  Recorder r;
  EXPECT_EQ(codec.read("HTTP/1.1 100 Continue\r\n\r\n" + std::string(kLength), r),
            Codec::Read::kOk);
  EXPECT_EQ(r.statuses, (std::vector<int>{200}));
}

TEST(LoadHttpCodec, AnswersToHeadHaveNoBody) {
  // The Content-Length of an answer to HEAD is the length a GET would have had.
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
  HttpCodec codec(httpOptions("http://127.0.0.1:8080/", "HEAD"));
  std::string out;
  codec.request(out);
  EXPECT_TRUE(out.starts_with("HEAD / HTTP/1.1\r\n")) << out;
  Recorder r;
  EXPECT_EQ(codec.read(head + head + std::string(kNotFound), r), Codec::Read::kOk);
  EXPECT_EQ(r.statuses, (std::vector<int>{200, 200, 404}));

  // The same bytes to a GET are one unfinished answer: the codec must know the method.
  HttpCodec get(httpOptions("http://127.0.0.1:8080/"));
  Recorder g;
  EXPECT_EQ(get.read(head + head, g), Codec::Read::kOk);
  EXPECT_EQ(g.statuses.size(), 0u);
}

TEST(LoadHttpCodec, ConnectionCloseIsSeen) {
  HttpCodec codec(httpOptions("http://127.0.0.1:8080/"));
  Recorder r;
  EXPECT_EQ(codec.read(kLength, r), Codec::Read::kOk);
  EXPECT_FALSE(codec.peerCloses());
  EXPECT_EQ(codec.read("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", r),
            Codec::Read::kOk);
  EXPECT_EQ(r.statuses.size(), 2u);
  EXPECT_TRUE(codec.peerCloses());
  // A new connection starts without it.
  codec.reset();
  EXPECT_FALSE(codec.peerCloses());
  // HTTP/1.0 without keep-alive closes too.
  EXPECT_EQ(codec.read("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", r), Codec::Read::kOk);
  EXPECT_EQ(r.statuses.size(), 3u);
  EXPECT_TRUE(codec.peerCloses());
}

TEST(LoadHttpCodec, GarbageIsMalformed) {
  for (const std::string_view bad : {
           std::string_view("garbage\r\n\r\n"),
           std::string_view("HTTP/1.1 abc OK\r\n\r\n"),
           std::string_view("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"),
           std::string_view("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
       }) {
    HttpCodec codec(httpOptions("http://127.0.0.1:8080/"));
    Recorder r;
    EXPECT_EQ(codec.read(bad, r), Codec::Read::kMalformed) << bad;
    EXPECT_EQ(r.statuses.size(), 0u) << bad;
  }
  // After a good answer too.
  HttpCodec codec(httpOptions("http://127.0.0.1:8080/"));
  Recorder r;
  EXPECT_EQ(codec.read(std::string(kLength) + "garbage\r\n\r\n", r), Codec::Read::kMalformed);
  EXPECT_EQ(r.statuses, (std::vector<int>{200}));
}

// ---- the datagram header, its codec and the tracker

TEST(LoadDatagram, HeaderRoundTrip) {
  std::string d(kDatagramHeader + 10, 'u');
  writeDatagramHeader(d.data(), DatagramHeader{0x0102030405060708, 42, 0xfffffffffffffff0});
  DatagramHeader h;
  ASSERT_TRUE(readDatagramHeader(d, &h));
  EXPECT_EQ(h.seq, 0x0102030405060708u);
  EXPECT_EQ(h.intended_ns, 42u);
  EXPECT_EQ(h.sent_ns, 0xfffffffffffffff0u);
  EXPECT_FALSE(readDatagramHeader(std::string_view(d).substr(0, kDatagramHeader - 1), &h));
  d[0] = 'X';
  EXPECT_FALSE(readDatagramHeader(d, &h));
}

TEST(LoadDatagram, EchoCodecReadsItsOwnRequestBack) {
  EchoDatagramCodec codec(100);
  std::string buf(2048, '\0');
  const size_t n = codec.request(buf.data(), buf.size(), 77, 1000, 1005);
  EXPECT_EQ(n, 100u);
  uint64_t seq = 0;
  int status = -1;
  ASSERT_TRUE(codec.answer(std::string_view(buf.data(), n), &seq, &status));
  EXPECT_EQ(seq, 77u);
  EXPECT_EQ(status, 0);
  EXPECT_FALSE(codec.answer("not a datagram of ours, though long enough to be", &seq, &status));
  EXPECT_FALSE(codec.answer(std::string_view(buf.data(), kDatagramHeader - 1), &seq, &status));
  // Below the header's size, a request is the header alone.
  EchoDatagramCodec tiny(1);
  EXPECT_EQ(tiny.request(buf.data(), buf.size(), 1, 2, 3), kDatagramHeader);
}

using Answer = DatagramTracker::Answer;

// Datagram `seq` sent when it was due, at `at`.
uint64_t send(DatagramTracker& t, uint64_t seq, uint64_t at) { return t.sent(seq, at, at); }

// Its answer at `now`.
Answer answer(DatagramTracker& t, uint64_t seq, uint64_t now) {
  uint64_t intended = 0;
  uint64_t sent = 0;
  return t.answered(seq, now, &intended, &sent);
}

TEST(LoadDatagramTracker, FirstAnswerGivesTheTimesOfItsRequest) {
  DatagramTracker t(16);
  t.sent(3, 1000, 1250);  // sent 250 ns late
  uint64_t intended = 0;
  uint64_t sent = 0;
  ASSERT_EQ(t.answered(3, 2000, &intended, &sent), Answer::kFirst);
  EXPECT_EQ(intended, 1000u);
  EXPECT_EQ(sent, 1250u);
}

TEST(LoadDatagramTracker, FirstDuplicateLateUnknown) {
  DatagramTracker t(16);
  EXPECT_EQ(send(t, 0, 1000), 0u);
  EXPECT_EQ(send(t, 1, 2000), 0u);
  EXPECT_EQ(t.outstanding(), 2u);
  EXPECT_EQ(answer(t, 0, 1500), Answer::kFirst);
  EXPECT_EQ(t.outstanding(), 1u);
  EXPECT_EQ(answer(t, 0, 1600), Answer::kDuplicate);
  EXPECT_EQ(t.outstanding(), 1u);
  // 1 is counted lost, then its answer comes.
  EXPECT_EQ(t.expire(3000), 1u);
  EXPECT_EQ(t.outstanding(), 0u);
  EXPECT_EQ(answer(t, 1, 4000), Answer::kLate);
  EXPECT_EQ(answer(t, 1, 4100), Answer::kLate);
  EXPECT_EQ(t.outstanding(), 0u);
  // Never sent.
  EXPECT_EQ(answer(t, 2, 5000), Answer::kUnknown);
  EXPECT_EQ(answer(t, 1000, 5000), Answer::kUnknown);
}

TEST(LoadDatagramTracker, CountsReordering) {
  DatagramTracker t(16);
  for (uint64_t s = 0; s < 5; ++s) {
    send(t, s, 100 * s);
  }
  for (uint64_t s : {0, 2, 1, 3, 4}) {
    EXPECT_EQ(answer(t, s, 1000), Answer::kFirst);
  }
  EXPECT_EQ(t.reordered(), 1u);

  DatagramTracker backwards(16);
  for (uint64_t s = 0; s < 5; ++s) {
    send(backwards, s, 100 * s);
  }
  for (uint64_t s : {4, 3, 2, 1, 0}) {
    EXPECT_EQ(answer(backwards, s, 1000), Answer::kFirst);
  }
  EXPECT_EQ(backwards.reordered(), 4u);
}

TEST(LoadDatagramTracker, ExpireCountsTheUnansweredSentBefore) {
  DatagramTracker t(64);
  for (uint64_t s = 0; s < 10; ++s) {
    send(t, s, 1000 * s);
  }
  EXPECT_EQ(answer(t, 3, 3100), Answer::kFirst);
  EXPECT_EQ(t.outstanding(), 9u);
  // Sent before 5000 and unanswered: 0, 1, 2, 4.
  EXPECT_EQ(t.expire(5000), 4u);
  EXPECT_EQ(t.outstanding(), 5u);
  // Nothing is counted twice.
  EXPECT_EQ(t.expire(5000), 0u);
  EXPECT_EQ(answer(t, 7, 7100), Answer::kFirst);
  EXPECT_EQ(t.outstanding(), 4u);
  EXPECT_EQ(t.expireAll(), 4u);  // 5, 6, 8, 9
  EXPECT_EQ(t.outstanding(), 0u);
  EXPECT_EQ(t.expireAll(), 0u);
}

TEST(LoadDatagramTracker, WindowWrapCountsThePushedOutOne) {
  DatagramTracker t(4);
  ASSERT_EQ(t.window(), 4u);
  for (uint64_t s = 0; s < 4; ++s) {
    EXPECT_EQ(send(t, s, s), 0u);
  }
  EXPECT_EQ(answer(t, 1, 10), Answer::kFirst);
  // 4 takes 0's place while 0 still waits: 0 is lost.
  EXPECT_EQ(send(t, 4, 4), 1u);
  // 5 takes 1's place, which was answered: nothing lost.
  EXPECT_EQ(send(t, 5, 5), 0u);
  EXPECT_EQ(t.outstanding(), 4u);  // 2, 3, 4, 5
  // 0's answer can no longer be matched.
  EXPECT_EQ(answer(t, 0, 20), Answer::kUnknown);
  // What was pushed out is not counted again: 6 sent, 1 answered, 5 lost in all.
  EXPECT_EQ(t.expireAll(), 4u);
  EXPECT_EQ(t.outstanding(), 0u);
}

TEST(LoadDatagramTracker, WindowWrapAfterExpire) {
  // Lost by expiry, then the window wraps over them: counted once, by expire().
  DatagramTracker t(4);
  for (uint64_t s = 0; s < 4; ++s) {
    send(t, s, s);
  }
  EXPECT_EQ(t.expire(100), 4u);
  for (uint64_t s = 4; s < 8; ++s) {
    EXPECT_EQ(send(t, s, 200 + s), 0u) << s;
  }
  EXPECT_EQ(t.outstanding(), 4u);
  EXPECT_EQ(t.expireAll(), 4u);
}

TEST(LoadDatagramTracker, WindowIsAPowerOfTwo) {
  EXPECT_EQ(DatagramTracker(1000).window(), 1024u);
  EXPECT_EQ(DatagramTracker(1024).window(), 1024u);
  EXPECT_EQ(DatagramTracker(0).window(), 2u);
}

TEST(LoadDatagramTracker, FromLowBitsFindsTheMostRecentMatch) {
  DatagramTracker t(1 << 16);
  for (uint64_t s = 0; s < 70000; ++s) {
    send(t, s, s);
  }
  // The highest sent is 69999, whose low 16 bits are 4463.
  EXPECT_EQ(t.fromLowBits(4463, 16), 69999u);
  EXPECT_EQ(t.fromLowBits(4462, 16), 69998u);
  // Above the highest's low bits: the previous round of 65536.
  EXPECT_EQ(t.fromLowBits(4464, 16), 4464u);
  EXPECT_EQ(t.fromLowBits(65535, 16), 65535u);
  EXPECT_EQ(t.fromLowBits(0, 16), 65536u);
  // All 64 bits: the number itself.
  EXPECT_EQ(t.fromLowBits(123, 64), 123u);
}

TEST(LoadDatagramTracker, JitterOfConstantTransitIsZero) {
  DatagramTracker t(1024);
  for (uint64_t s = 0; s < 100; ++s) {
    const uint64_t sent = 1'000'000 * s + 17 * (s % 7);  // irregular sending
    send(t, s, sent);
    EXPECT_EQ(answer(t, s, sent + 250'000), Answer::kFirst);
  }
  EXPECT_EQ(t.jitterNs(), 0.0);
}

TEST(LoadDatagramTracker, JitterOfAlternatingTransitFollowsRfc3550) {
  // Transit alternates 100 us and 300 us: every difference D is 200 us, and RFC 3550's
  // estimator J += (|D| - J) / 16 after n differences is 200 us * (1 - (15/16)^n).
  DatagramTracker t(1024);
  constexpr int kAnswers = 300;
  for (int s = 0; s < kAnswers; ++s) {
    const uint64_t sent = 1'000'000ull * s;
    const uint64_t transit = s % 2 == 0 ? 100'000 : 300'000;
    send(t, s, sent);
    ASSERT_EQ(answer(t, s, sent + transit), Answer::kFirst);
    const double expected = 200'000.0 * (1 - std::pow(15.0 / 16.0, s));
    ASSERT_NEAR(t.jitterNs(), expected, 1e-6 * 200'000) << "after " << s + 1 << " answers";
  }
  EXPECT_NEAR(t.jitterNs(), 200'000, 1);
}

TEST(LoadDatagramTracker, JitterIsOfTheSendTimeNotTheDueTime) {
  // A generator that sends late must not make the target look jittery: transit is measured
  // from the actual send.
  DatagramTracker t(16);
  for (uint64_t s = 0; s < 10; ++s) {
    const uint64_t due = 1000 * s;
    const uint64_t sent = due + (s % 2 == 0 ? 0 : 400);
    t.sent(s, due, sent);
    uint64_t intended = 0;
    uint64_t sent_back = 0;
    ASSERT_EQ(t.answered(s, sent + 50, &intended, &sent_back), Answer::kFirst);
  }
  EXPECT_EQ(t.jitterNs(), 0.0);
}

TEST(LoadDatagramTracker, DuplicatesAndLateAnswersDoNotChangeJitter) {
  DatagramTracker t(16);
  send(t, 0, 0);
  send(t, 1, 1000);
  answer(t, 0, 500);
  answer(t, 1, 1500);
  ASSERT_EQ(t.jitterNs(), 0.0);
  // A duplicate arriving much later is not a new transit time.
  EXPECT_EQ(answer(t, 0, 1'000'000), Answer::kDuplicate);
  EXPECT_EQ(t.jitterNs(), 0.0);
}

}  // namespace
}  // namespace portd::load
