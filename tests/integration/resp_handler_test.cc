// The resp handler against real Redis clients: redis-cli for replies and error texts, a store
// shared by two workers, redis-benchmark's whole default suite, the request limits and the
// fault knobs. The tools come from redis-tools, which .ci/setup installs.

#include <gtest/gtest.h>
#include <unistd.h>

#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.h"
#include "net_client.h"

namespace portd::itest {
namespace {

constexpr const char* kRedisCli = "/usr/bin/redis-cli";
constexpr const char* kRedisBenchmark = "/usr/bin/redis-benchmark";

struct ToolResult {
  ExitStatus status = ExitStatus::running();
  std::string out;
  std::string err;
};

ToolResult runTool(const std::string& path, const std::vector<std::string>& args,
                   Clock::duration timeout = 30s) {
  ChildProcess child({path, args, std::nullopt, {}, {}, ""});
  ToolResult r;
  r.status = child.wait(timeout);
  if (r.status.isRunning()) {
    child.signal(SIGKILL);
    child.wait(5s);
  }
  r.out = child.stdoutText();
  r.err = child.stderrText();
  return r;
}

std::string config(const std::string& options, int workers = 1,
                   const std::string& listener_keys = "") {
  return "[server]\nworkers = " + std::to_string(workers) +
         "\nshutdown_timeout = \"5s\"\n\n[admin]\naddress = \"127.0.0.1:0\"\n\n"
         "[[listener]]\nname = \"resp\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:0\"\n"
         "handler = \"resp\"\n" +
         listener_keys + "\n[listener.options]\n" + options + "\n";
}

class RespTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access(kRedisCli, X_OK), 0) << "redis-cli is missing: run .ci/setup";
    ASSERT_EQ(::access(kRedisBenchmark, X_OK), 0) << "redis-benchmark is missing";
  }
  // redis-cli -p PORT ARGS...: its output without the last newline.
  std::string cli(const Endpoint& to, const std::vector<std::string>& args) {
    std::vector<std::string> full = {"-h", "127.0.0.1", "-p", std::to_string(to.port())};
    full.insert(full.end(), args.begin(), args.end());
    ToolResult r = runTool(kRedisCli, full, 10s);
    EXPECT_EQ(r.status, ExitStatus::exited(0)) << r.err;
    std::string out = r.out;
    while (!out.empty() && out.back() == '\n') {
      out.pop_back();
    }
    return out;
  }
};

TEST_F(RespTest, RedisCliGetsRedisAnswersAndErrorTexts) {
  Daemon d;
  ASSERT_TRUE(d.start(config("max_keys = 3")));
  const Endpoint to = d.listener("resp");
  EXPECT_EQ(cli(to, {"PING"}), "PONG");
  EXPECT_EQ(cli(to, {"SET", "k", "hello world"}), "OK");
  EXPECT_EQ(cli(to, {"GET", "k"}), "hello world");
  EXPECT_EQ(cli(to, {"foo", "a", "b"}),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' ");
  EXPECT_EQ(cli(to, {"LPUSH", "k", "x"}),
            "WRONGTYPE Operation against a key holding the wrong kind of value");
  EXPECT_EQ(cli(to, {"HELLO", "3"}), "NOPROTO unsupported protocol version");
  EXPECT_EQ(cli(to, {"INCR", "n"}), "1");
  EXPECT_EQ(cli(to, {"SET", "third", "v"}), "OK");
  EXPECT_EQ(cli(to, {"SET", "fourth", "v"}),
            "OOM command not allowed when used memory > 'maxmemory'.");
  EXPECT_EQ(cli(to, {"DBSIZE"}), "3");
  // Interactive-style use: redis-cli reads commands from its input and asks COMMAND DOCS.
  EXPECT_TRUE(d.stop());
}

// With `shared`, a key set on one connection is seen on every other, whichever worker took
// it; without, some of 16 connections land on the other worker and miss it, which shows
// that the connections were spread.
TEST_F(RespTest, SharedStoreIsSeenByEveryWorker) {
  for (const bool shared : {true, false}) {
    Daemon d;
    ASSERT_TRUE(d.start(config(shared ? "shared = true" : "shared = false", 2)));
    const Endpoint to = d.listener("resp");
    EXPECT_EQ(cli(to, {"SET", "k", "v"}), "OK");
    int hits = 0;
    for (int i = 0; i < 16; ++i) {
      hits += cli(to, {"GET", "k"}) == "v" ? 1 : 0;
    }
    if (shared) {
      EXPECT_EQ(hits, 16);
    } else {
      EXPECT_LT(hits, 16) << "every connection landed on one worker";
    }
    EXPECT_TRUE(d.stop());
  }
}

const char* const kSuite[] = {
    "PING_INLINE", "PING_MBULK", "SET",        "GET",        "INCR",
    "LPUSH",       "RPUSH",      "LPOP",       "RPOP",       "SADD",
    "HSET",        "SPOP",       "ZADD",       "ZPOPMIN",    "LPUSH (needed to benchmark LRANGE)",
    "LRANGE_100",  "LRANGE_300", "LRANGE_500", "LRANGE_600", "MSET"};

// redis-benchmark exits at the first error reply; its whole default suite must run.
TEST_F(RespTest, RedisBenchmarkRunsItsWholeDefaultSuite) {
  Daemon d;
  ASSERT_TRUE(d.start(config("")));
  const Endpoint to = d.listener("resp");
  for (const char* pipeline : {"1", "16"}) {
    ToolResult r = runTool(kRedisBenchmark,
                           {"-h", "127.0.0.1", "-p", std::to_string(to.port()), "-n", "2000", "-c",
                            "4", "-P", pipeline, "--csv"},
                           120s);
    ASSERT_EQ(r.status, ExitStatus::exited(0)) << "-P " << pipeline << ": " << r.err << r.out;
    for (const char* test : kSuite) {
      EXPECT_NE(r.out.find("\"" + std::string(test)), std::string::npos)
          << test << " missing with -P " << pipeline << ":\n"
          << r.out;
    }
    EXPECT_EQ(r.out.find("ERR"), std::string::npos) << r.out;
  }
  EXPECT_TRUE(d.stop());
}

// CVE-2021-32675: a declared length is refused before anything is reserved for it, and the
// connection closes at once.
TEST_F(RespTest, HugeDeclaredLengthsAreRefusedAndClosed) {
  Daemon d;
  ASSERT_TRUE(d.start(config("", 1, "write_buffer_limit = \"64KiB\"\n")));
  const Endpoint to = d.listener("resp");
  const uint64_t rss_before = d.rssBytes();
  struct Case {
    std::string request;
    std::string reply;
  };
  const Case cases[] = {
      {"*1\r\n$2147483647\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*1\r\n$536870912\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      // Over what the connection may hold (write_buffer_limit), though under max_bulk_length.
      {"*1\r\n$100000\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*99999999999\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
      {"*1\r\nx\r\n", "-ERR Protocol error: expected '$', got 'x'\r\n"},
      {"set \"a\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
      {std::string(70000, 'a'), "-ERR Protocol error: too big inline request\r\n"},
  };
  for (int round = 0; round < 20; ++round) {
    for (const Case& c : cases) {
      Fd fd = connectTcp(to);
      ASSERT_TRUE(fd.valid());
      ASSERT_TRUE(sendAll(fd.get(), "PING\r\n" + c.request));
      EXPECT_EQ(readExactly(fd.get(), 7 + c.reply.size()), "+PONG\r\n" + c.reply);
      EXPECT_EQ(waitForClose(fd.get()), PeerClose::kEof) << c.reply;
    }
  }
  if (!kSanitizerBuild) {
    EXPECT_LT(d.rssBytes(), rss_before + (16u << 20));
  }
  EXPECT_TRUE(d.stop());
}

// A command larger than the connection may hold is not held: the connection closes.
TEST_F(RespTest, ACommandLargerThanTheBufferLimitCloses) {
  Daemon d;
  ASSERT_TRUE(d.start(config("", 1, "write_buffer_limit = \"64KiB\"\n")));
  Fd fd = connectTcp(d.listener("resp"));
  ASSERT_TRUE(fd.valid());
  std::string request = "*3\r\n$3\r\nSET\r\n$40000\r\n" + std::string(40000, 'k') +
                        "\r\n$40000\r\n" + std::string(40000, 'v') + "\r\n";
  (void)sendAll(fd.get(), request);
  EXPECT_NE(waitForClose(fd.get()), PeerClose::kStillOpen);
  EXPECT_TRUE(d.stop());
}

// Pipelined commands are answered in order, whatever their number; output past the write limit
// waits for the peer to read.
TEST_F(RespTest, PipelinedCommandsAreAnsweredInOrder) {
  Daemon d;
  ASSERT_TRUE(d.start(config("", 1, "write_buffer_limit = \"16KiB\"\n")));
  Fd fd = connectTcp(d.listener("resp"));
  ASSERT_TRUE(fd.valid());
  std::string request;
  std::string expected;
  for (int i = 0; i < 3000; ++i) {
    const std::string v = std::to_string(i);
    request +=
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + std::to_string(v.size()) + "\r\n" + v + "\r\nGET k\r\n";
    expected += "+OK\r\n$" + std::to_string(v.size()) + "\r\n" + v + "\r\n";
  }
  std::thread writer([&] { EXPECT_TRUE(sendAll(fd.get(), request)); });
  EXPECT_EQ(readExactly(fd.get(), expected.size()), expected);
  writer.join();
  EXPECT_TRUE(d.stop());
}

// The value of portd_handler_events_total{...,name="NAME"}, or -1.
double handlerCounter(const Endpoint& admin, const std::string& name) {
  Fd fd = connectTcp(admin);
  if (!fd.valid() ||
      !sendAll(fd.get(), "GET /metrics HTTP/1.1\r\nHost: portd\r\nConnection: close\r\n\r\n")) {
    return -1;
  }
  std::istringstream in(readExactly(fd.get(), size_t{1} << 24));
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("portd_handler_events_total") &&
        line.find("name=\"" + name + "\"") != std::string::npos) {
      return std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return -1;
}

TEST_F(RespTest, FaultKnobs) {
  {
    Daemon d;
    ASSERT_TRUE(d.start(config("fault_error_percent = \"100\"\nfault_error_reply = \"ERR no\"")));
    EXPECT_EQ(cli(d.listener("resp"), {"PING"}), "ERR no");
    EXPECT_EQ(handlerCounter(d.admin(), "fault_errors"), 1);
    EXPECT_TRUE(d.stop());
  }
  {
    Daemon d;
    ASSERT_TRUE(d.start(config("fault_close_percent = \"100\"")));
    Fd fd = connectTcp(d.listener("resp"));
    ASSERT_TRUE(fd.valid());
    ASSERT_TRUE(sendAll(fd.get(), "PING\r\n"));
    EXPECT_EQ(waitForClose(fd.get()), PeerClose::kEof);
    EXPECT_EQ(handlerCounter(d.admin(), "fault_closes"), 1);
    EXPECT_TRUE(d.stop());
  }
  {
    // Every reply 150 ms late, in order: three pipelined commands take three delays.
    Daemon d;
    ASSERT_TRUE(d.start(config("fault_delay = \"150ms\"\nfault_delay_percent = \"100\"")));
    Fd fd = connectTcp(d.listener("resp"));
    ASSERT_TRUE(fd.valid());
    const auto start = Clock::now();
    ASSERT_TRUE(sendAll(fd.get(), "PING\r\nECHO a\r\nECHO b\r\n"));
    EXPECT_EQ(readExactly(fd.get(), 21, 10s), "+PONG\r\n$1\r\na\r\n$1\r\nb\r\n");
    EXPECT_GE(Clock::now() - start, 450ms - 3 * kLoopClockSlack);
    EXPECT_EQ(handlerCounter(d.admin(), "fault_delays"), 3);
    EXPECT_TRUE(d.stop());
  }
  {
    // A probability between: over 400 commands, some of each and not all.
    Daemon d;
    ASSERT_TRUE(d.start(config("fault_error_percent = \"50\"\nfault_seed = 7")));
    Fd fd = connectTcp(d.listener("resp"));
    ASSERT_TRUE(fd.valid());
    std::string request;
    for (int i = 0; i < 400; ++i) {
      request += "PING\r\n";
    }
    ASSERT_TRUE(sendAll(fd.get(), request));
    const double injected = [&] {
      std::string got;
      size_t replies = 0;
      while (replies < 400) {
        std::string more = readExactly(fd.get(), 1, 5s);
        if (more.empty()) {
          break;
        }
        got += more;
        replies += more == "\n" ? 1 : 0;
      }
      return static_cast<double>(countOccurrences(got, "-ERR injected fault\r\n"));
    }();
    EXPECT_GT(injected, 100);
    EXPECT_LT(injected, 300);
    EXPECT_EQ(handlerCounter(d.admin(), "fault_errors"), injected);
    EXPECT_EQ(handlerCounter(d.admin(), "commands"), 400);
    EXPECT_TRUE(d.stop());
  }
}

TEST_F(RespTest, BadOptionsAreConfigurationErrors) {
  for (const char* bad :
       {"max_keys = 0", "fault_error_percent = \"101\"", "shards = 0",
        "fault_delay_percent = \"5\"", "max_inline_length = 1", "fault_error_reply = \"\""}) {
    TempFile file(config(bad));
    CommandResult r = runPortd({"check", "-c", file.path()});
    EXPECT_EQ(r.status, ExitStatus::exited(2)) << bad;
    const std::string option(bad, std::string_view(bad).find(' '));
    EXPECT_NE(r.err.find(option), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace portd::itest
