// The http handler's output is bounded by the listener's write_buffer_limit: connections that
// pipeline many requests for large answers and never read must not make the daemon render
// every answer before the limit is looked at. Measured on the real binary, from /proc.

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "http_client.h"

namespace portd::itest {
namespace {

// Only the plain build measures memory (see kSanitizerBuild); the sanitizer builds still
// check everything else.
constexpr bool kMeasuresMemory = !kSanitizerBuild;

// An http listener "web" and the admin endpoint; `extra` adds lines to the listener.
std::string webConfig(int workers, const std::string& extra) {
  return "[server]\nworkers = " + std::to_string(workers) +
         "\nshutdown_timeout = \"2s\"\n\n[admin]\naddress = \"127.0.0.1:0\"\n\n"
         "[[listener]]\nname = \"web\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:0\"\n"
         "handler = \"http\"\n" +
         extra;
}

// As many requests as fit in one 64 KiB read, each for a body one byte longer than the one
// before (from `base` on), so that the order of the answers shows in their lengths.
std::string echoBatch(size_t base, size_t* count) {
  std::string batch;
  *count = 0;
  for (;;) {
    std::string r =
        "GET /echo?size=" + std::to_string(base + *count) + " HTTP/1.1\r\nHost: portd\r\n\r\n";
    if (batch.size() + r.size() > 64 * 1024) {
      return batch;
    }
    batch += r;
    ++*count;
  }
}

// Reads responses from `fd` until `count` have arrived, the peer closes, or `timeout` passes,
// parsing as they come (the answers are tens of megabytes).
std::vector<HttpResponse> readMany(int fd, size_t count, Clock::duration timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  std::vector<HttpResponse> got;
  std::string pending;
  std::vector<char> buf(1 << 20);
  while (got.size() < count && Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) {
      continue;
    }
    ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n == 0) {
      break;
    }
    if (n < 0) {
      continue;
    }
    pending.append(buf.data(), static_cast<size_t>(n));
    std::string rest;
    for (HttpResponse& r : parseResponses(pending, &rest)) {
      r.body.clear();  // only the framing matters here
      got.push_back(std::move(r));
    }
    pending.swap(rest);
  }
  return got;
}

// 20 connections each pipeline about 1,400 requests for 32 KiB answers in one send and never
// read: some 900 MiB if every read's requests were answered at once. With write_buffer_limit =
// 256KiB each connection holds about a third of a megabyte.
TEST(HttpOutputBound, PipelinedRequestsOfPeersThatDoNotReadCostAtMostTheWriteLimit) {
  Daemon d;
  ASSERT_TRUE(d.start(webConfig(1, "write_buffer_limit = \"256KiB\"\n")));
  const Endpoint web = d.listener("web");
  const Endpoint admin = d.admin();
  const uint64_t before = d.settledRssBytes();

  constexpr size_t kBase = 32 * 1024;
  constexpr int kConnections = 20;
  size_t count = 0;
  const std::string batch = echoBatch(kBase, &count);
  ASSERT_GT(count, 1000u);
  std::vector<Fd> conns;
  for (int i = 0; i < kConnections; ++i) {
    conns.push_back(connectTcp(web));
    ASSERT_TRUE(conns.back().valid());
    ASSERT_TRUE(sendAll(conns.back().get(), batch));
  }
  // The admin endpoint is the same handler: the same rule holds for it.
  std::string stats_batch;
  while (stats_batch.size() < 60 * 1024) {
    stats_batch += "GET /stats HTTP/1.1\r\nHost: portd\r\n\r\n";
  }
  std::vector<Fd> admin_conns;
  for (int i = 0; i < 4; ++i) {
    admin_conns.push_back(connectTcp(admin));
    ASSERT_TRUE(admin_conns.back().valid());
    ASSERT_TRUE(sendAll(admin_conns.back().get(), stats_batch));
  }

  // Others are served meanwhile: the worker and the admin endpoint are not stuck.
  Fd other = connectTcp(web);
  ASSERT_TRUE(sendAll(other.get(), getRequest("/echo?size=10")));
  auto answered = readResponses(other.get(), 1);
  EXPECT_EQ(answered.size(), 1u) << "another connection on the same worker is not answered";
  if (!answered.empty()) {
    EXPECT_EQ(answered[0].status, 200);
    EXPECT_EQ(answered[0].body.size(), 10u);
  }
  CommandResult health = runCurl({"-s", "-w", "\n%{http_code}", url(admin, "/healthz")});
  EXPECT_TRUE(health.out.ends_with("\n200")) << health.out << health.err;

  const uint64_t loaded = d.settledRssBytes();
  std::printf("portd RSS %llu -> %llu bytes\n", static_cast<unsigned long long>(before),
              static_cast<unsigned long long>(loaded));
  ::testing::Test::RecordProperty("rss_before", std::to_string(before));
  ::testing::Test::RecordProperty("rss_loaded", std::to_string(loaded));
  if (kMeasuresMemory) {
    EXPECT_LT(loaded - before, 64ull << 20) << "RSS went from " << before << " to " << loaded;
  }

  // Once the peers leave, what they held is let go of and nothing goes on growing.
  conns.resize(1);
  admin_conns.clear();
  const uint64_t after = d.settledRssBytes();
  if (kMeasuresMemory) {
    EXPECT_LT(after, loaded + (4ull << 20)) << before << " " << loaded << " " << after;
  }

  // The one left reads now: every answer arrives, complete and in order.
  auto all = readMany(conns[0].get(), count, 30s);
  ASSERT_EQ(all.size(), count);
  for (size_t i = 0; i < count; ++i) {
    ASSERT_EQ(all[i].status, 200) << "response " << i;
    ASSERT_EQ(all[i].header("Content-Length"), std::to_string(kBase + i)) << "response " << i;
  }
  // Nothing more follows: a second answer to any request would be here by now.
  ASSERT_TRUE(sendAll(conns[0].get(), getRequest("/echo?size=7")));
  auto last = readResponses(conns[0].get(), 1);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].header("Content-Length"), "7");

  // With every peer gone, the memory goes back to the system (pool trimming, malloc_trim):
  // RSS returns to within 10% (and a couple of MiB of warm pools) of where it started.
  conns.clear();
  other.reset();
  const uint64_t idle = d.settledRssBytes();
  std::printf("portd RSS after the peers left: %llu bytes\n",
              static_cast<unsigned long long>(idle));
  if (kMeasuresMemory) {
    EXPECT_LT(idle, before + before / 10 + (2ull << 20)) << before << " " << loaded << " " << idle;
  }
}

// The attack as it was reported: 200 connections each send 64 KiB of requests for 1 MiB
// answers and never read, with the default write_buffer_limit (1 MiB) on both workers. The
// answers are the shared filler written by reference, so what a connection holds is its queue
// of references and the unparsed rest of its read: the daemon stays far under 200 MiB, and
// gives back what it took once the peers are gone.
TEST(HttpOutputBound, TwoHundredPeersAskingForMegabytesAndNeverReadingStayUnder200MiB) {
  Daemon d;
  ASSERT_TRUE(d.start(webConfig(2, "")));
  const Endpoint web = d.listener("web");
  const Endpoint admin = d.admin();
  // The start is a daemon that has served: the code and tables of a large answer, of /metrics
  // and of /healthz are paged in once, attack or not.
  {
    Fd warm = connectTcp(web);
    ASSERT_TRUE(sendAll(warm.get(), getRequest("/echo?size=1MiB")));
    ASSERT_EQ(readMany(warm.get(), 1, 10s).size(), 1u);
    runCurl({"-s", "-m", "5", url(admin, "/metrics")});
    runCurl({"-s", "-m", "5", url(admin, "/healthz")});
  }
  const uint64_t before = d.settledRssBytes();

  std::string batch;
  const std::string request = "GET /echo?size=1MiB HTTP/1.1\r\nHost: portd\r\n\r\n";
  while (batch.size() + request.size() <= 64 * 1024) {
    batch += request;
  }
  constexpr int kConnections = 200;
  std::vector<Fd> conns;
  for (int i = 0; i < kConnections; ++i) {
    conns.push_back(connectTcp(web));
    ASSERT_TRUE(conns.back().valid());
    ASSERT_TRUE(sendAll(conns.back().get(), batch));
  }
  const uint64_t loaded = d.settledRssBytes();
  std::printf("portd RSS %llu -> %llu bytes with %d peers not reading\n",
              static_cast<unsigned long long>(before), static_cast<unsigned long long>(loaded),
              kConnections);
  ::testing::Test::RecordProperty("rss_before", std::to_string(before));
  ::testing::Test::RecordProperty("rss_loaded", std::to_string(loaded));
  if (kMeasuresMemory) {
    EXPECT_LT(loaded, 200ull << 20) << "RSS went from " << before << " to " << loaded;
  }

  // Other clients see no timeouts meanwhile.
  for (int i = 0; i < 4; ++i) {
    Fd other = connectTcp(web);
    ASSERT_TRUE(sendAll(other.get(), getRequest("/echo?size=100KiB")));
    auto answered = readResponses(other.get(), 1);
    ASSERT_EQ(answered.size(), 1u) << "another connection is not answered";
    EXPECT_EQ(answered[0].status, 200);
    EXPECT_EQ(answered[0].body.size(), 100u * 1024);
  }
  CommandResult health = runCurl({"-s", "-m", "5", "-w", "\n%{http_code}", url(admin, "/healthz")});
  EXPECT_TRUE(health.out.ends_with("\n200")) << health.out << health.err;

  // One of them reads now: its first answer is the whole megabyte of filler.
  auto first = readMany(conns[0].get(), 1, 30s);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].header("Content-Length"), std::to_string(1 << 20));

  conns.clear();
  // Every connection is gone from the daemon's books, not only from ours.
  const std::regex active(R"re(portd_connections_active\{[^}]*listener="web"[^}]*\} (\d+))re");
  std::string last;
  for (const Clock::time_point until = Clock::now() + 10s; Clock::now() < until;) {
    CommandResult metrics = runCurl({"-s", "-m", "5", url(admin, "/metrics")});
    std::smatch m;
    last = std::regex_search(metrics.out, m, active) ? m[1].str() : metrics.out;
    if (last == "0") {
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(last, "0") << "connections still active after the peers closed";
  const uint64_t idle = d.settledRssBytes();
  std::printf("portd RSS after the peers left: %llu bytes\n",
              static_cast<unsigned long long>(idle));
  ::testing::Test::RecordProperty("rss_idle", std::to_string(idle));
  if (kMeasuresMemory) {
    EXPECT_LT(idle, before + before / 10) << before << " " << loaded << " " << idle;
  }
}

}  // namespace
}  // namespace portd::itest
