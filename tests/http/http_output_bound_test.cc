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
  ASSERT_TRUE(d.start(R"toml(
[server]
workers = 1
shutdown_timeout = "2s"

[admin]
address = "127.0.0.1:0"

[[listener]]
name = "web"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "http"
write_buffer_limit = "256KiB"
)toml"));
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

}  // namespace
}  // namespace portd::itest
