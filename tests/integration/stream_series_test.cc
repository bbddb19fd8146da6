// The stream sink's per-peer series from the outside: two UDP peers (one with a gap, one with a
// duplicate and a reordered message) each have their own figures in /metrics and /stats, which
// promtool accepts, and both vanish once the peers have been idle for peer_idle; a TCP peer's
// series live as long as its connection.

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.h"
#include "metrics_client.h"
#include "net_client.h"
#include "stream_messages.h"

namespace portd::itest {
namespace {

// Two workers: each keeps its own series, summed by the scrape.
std::string config(const std::string& protocol, const std::string& options) {
  return streamConfig(protocol, options, 2);
}

std::string peerOf(int fd) { return "127.0.0.1:" + std::to_string(Endpoint::local(fd).port()); }

// portd_handler_peer_events_total (or _value, for a gauge) of one peer; -1 when absent.
double peerSample(const std::string& metrics, const std::string& protocol, const std::string& name,
                  const std::string& peer, bool gauge = false) {
  return sample(
      metrics, std::string(gauge ? "portd_handler_peer_value" : "portd_handler_peer_events_total") +
                   R"({listener="stream",handler="stream",protocol=")" + protocol + R"(",name=")" +
                   name + R"(",peer=")" + peer + R"("})");
}

// /stats' figures of one peer of the listener "stream"; null when it has none.
nlohmann::json peerStats(const Daemon& d, const std::string& peer) {
  const nlohmann::json stats = nlohmann::json::parse(adminBody(d.admin(), "/stats"));
  for (const auto& l : stats.at("listeners")) {
    if (l.at("name") == "stream" && l.contains("handler_series") &&
        l["handler_series"].contains("peer") && l["handler_series"]["peer"].contains(peer)) {
      return l["handler_series"]["peer"][peer];
    }
  }
  return nullptr;
}

// /metrics once `ready` says so (what was sent is read asynchronously), or after 5 s.
template <typename Ready>
std::string metricsWhen(const Daemon& d, Ready ready) {
  const Clock::time_point until = Clock::now() + 5s;
  std::string m = metrics(d.admin());
  while (!ready(m) && Clock::now() < until) {
    std::this_thread::sleep_for(10ms);
    m = metrics(d.admin());
  }
  return m;
}

// Waits until neither /metrics nor /stats has a series of `peer`.
bool waitForGone(const Daemon& d, const std::string& protocol, const std::string& peer) {
  const Clock::time_point until = Clock::now() + 10s;
  while (Clock::now() < until) {
    if (peerSample(metrics(d.admin()), protocol, "received", peer) < 0 &&
        peerStats(d, peer).is_null()) {
      return true;
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

TEST(StreamPeerSeries, TwoUdpPeersHaveTheirOwnFiguresUntilTheyGoIdle) {
  Daemon d;
  // Every check below runs while the peers are still live, so peer_idle outlasts them many
  // times over: a sanitizer build took more than a second for them, and the second peer's
  // series had gone before /stats was asked.
  ASSERT_TRUE(d.start(config("udp", "peer_idle = \"5s\"\n")));
  Fd a = bindUdp(Endpoint::loopback(AF_INET));
  Fd b = bindUdp(Endpoint::loopback(AF_INET));
  // a: 0..19, then 1100: the window's floor jumps to 77, so 20..76 are lost at once (57).
  for (uint64_t s = 0; s < 20; ++s) {
    ASSERT_TRUE(sendDatagram(a.get(), d.listener("stream"), streamMessage(s)));
  }
  ASSERT_TRUE(sendDatagram(a.get(), d.listener("stream"), streamMessage(1100)));
  // b: 0..9 with 5 twice and 7 before 6.
  for (uint64_t s : {0, 1, 2, 3, 4, 5, 5, 7, 6, 8, 9}) {
    ASSERT_TRUE(sendDatagram(b.get(), d.listener("stream"), streamMessage(s)));
  }
  const std::string pa = peerOf(a.get());
  const std::string pb = peerOf(b.get());

  // Datagrams are read asynchronously: wait until the last ones are counted.
  std::string m = metricsWhen(d, [&](const std::string& text) {
    return peerSample(text, "udp", "received", pa) == 21 &&
           peerSample(text, "udp", "received", pb) == 10;
  });
  EXPECT_EQ(peerSample(m, "udp", "received", pa), 21) << m;
  EXPECT_EQ(peerSample(m, "udp", "lost", pa), 57);
  EXPECT_EQ(peerSample(m, "udp", "duplicated", pa), 0);
  EXPECT_EQ(peerSample(m, "udp", "reordered", pa), 0);
  EXPECT_EQ(peerSample(m, "udp", "late", pa), 0);
  EXPECT_EQ(peerSample(m, "udp", "received_bytes", pa), 21 * 64);
  EXPECT_GE(peerSample(m, "udp", "jitter_seconds", pa, true), 0);
  EXPECT_LT(peerSample(m, "udp", "jitter_seconds", pa, true), 1) << "seconds, not ns";
  EXPECT_EQ(peerSample(m, "udp", "received", pb), 10);
  EXPECT_EQ(peerSample(m, "udp", "lost", pb), 0);
  EXPECT_EQ(peerSample(m, "udp", "duplicated", pb), 1);
  EXPECT_EQ(peerSample(m, "udp", "reordered", pb), 1);
  EXPECT_EQ(peerSample(m, "udp", "received_bytes", pb), 11 * 64);
  const size_t body = m.find("\r\n\r\n");
  std::string why;
  EXPECT_TRUE(promtoolAccepts(m.substr(body + 4), &why)) << why;

  const nlohmann::json sa = peerStats(d, pa);
  ASSERT_FALSE(sa.is_null()) << adminBody(d.admin(), "/stats");
  EXPECT_EQ(sa.at("received"), 21);
  EXPECT_EQ(sa.at("lost"), 57);
  EXPECT_EQ(sa.at("received_bytes"), 21 * 64);
  EXPECT_TRUE(sa.at("jitter_seconds").is_number());
  const nlohmann::json sb = peerStats(d, pb);
  ASSERT_FALSE(sb.is_null());
  EXPECT_EQ(sb.at("received"), 10);
  EXPECT_EQ(sb.at("duplicated"), 1);
  EXPECT_EQ(sb.at("reordered"), 1);

  // Idle for peer_idle: the final counts are logged (what was still missing is lost), then
  // the series leave.
  EXPECT_TRUE(
      d.waitForLog("stream from " + pa + " (udp): received 21 (1344 bytes), lost 1080", 1, 15s));
  EXPECT_TRUE(d.waitForLog("stream from " + pb + " (udp): received 10", 1, 15s));
  EXPECT_TRUE(waitForGone(d, "udp", pa));
  EXPECT_TRUE(waitForGone(d, "udp", pb));
  // The totals stay.
  EXPECT_EQ(
      sample(metrics(d.admin()), R"(portd_handler_events_total{listener="stream",handler="stream",)"
                                 R"(protocol="udp",name="received"})"),
      31);
  EXPECT_TRUE(d.stop());
}

TEST(StreamPeerSeries, ATcpPeersSeriesLastAsLongAsItsConnection) {
  Daemon d;
  ASSERT_TRUE(d.start(config("tcp", "")));
  Fd c = connectTcp(d.listener("stream"));
  const std::string peer = peerOf(c.get());
  std::string all;
  for (uint64_t s : {0, 1, 2, 3, 4, 1100}) {
    all += framed(streamMessage(s));
  }
  ASSERT_TRUE(sendAll(c.get(), all));
  const std::string m = metricsWhen(
      d, [&](const std::string& text) { return peerSample(text, "tcp", "received", peer) == 6; });
  EXPECT_EQ(peerSample(m, "tcp", "received", peer), 6) << m;
  EXPECT_EQ(peerSample(m, "tcp", "lost", peer), 72);  // 5..76 left the window unseen
  EXPECT_EQ(peerStats(d, peer).at("received"), 6);
  c.reset();
  EXPECT_TRUE(d.waitForLog("stream from " + peer + " (tcp): received 6"));
  EXPECT_TRUE(waitForGone(d, "tcp", peer));
  EXPECT_TRUE(d.stop());
}

}  // namespace
}  // namespace portd::itest
