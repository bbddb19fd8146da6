// `portd load` end to end: the real binary as the generator, against the real binary as the
// target (http, tcp and udp echo), a target that stalls, dies or answers garbage, and
// nothing at all. Both run as child processes; results are read from --json.

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "daemon_process.h"
#include "load/hdr_codec.h"
#include "net_client.h"

namespace portd::itest {
namespace {

using nlohmann::json;

const char* const kHistograms[] = {"corrected", "uncorrected", "connect", "first_byte", "lag"};

// One worker: the target's figures are then one loop's, and two cores are shared with the
// generator.
constexpr std::string_view kTargetConfig = R"toml(
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

[[listener]]
name = "echo"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"

[[listener]]
name = "uecho"
protocol = "udp"
address = "127.0.0.1:0"
handler = "echo"
)toml";

std::string url(std::string_view scheme, const Endpoint& e, std::string_view path = "") {
  return std::string(scheme) + "://" + e.toString() + std::string(path);
}

// `portd load ARGS...` as a child process that the test signals and waits for.
ChildProcess::Spec loadSpec(std::vector<std::string> args) {
  args.insert(args.begin(), "load");
  return ChildProcess::Spec{PORTD_BINARY, std::move(args), std::nullopt, {}, {}, ""};
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A result as `portd load --json` wrote it; a test failure and null if it is not JSON.
json parseResult(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    ADD_FAILURE() << "not a JSON result:\n" << text;
    return json();
  }
  return j;
}

uint64_t counter(const json& result, const std::string& name) {
  return result["counters"][name].get<uint64_t>();
}

uint64_t errorCount(const json& result, const std::string& kind) {
  return result["counters"]["errors"][kind].get<uint64_t>();
}

// Every error kind that is not 0, "kind=n kind=n", so that a failure says which.
std::string nonZeroErrors(const json& result) {
  std::string out;
  for (const auto& [kind, n] : result["counters"]["errors"].items()) {
    if (n.get<uint64_t>() != 0) {
      out += kind + "=" + std::to_string(n.get<uint64_t>()) + " ";
    }
  }
  return out;
}

// The whole answer to GET `path` on `to` (the admin endpoint), read until it closes.
std::string httpGet(const Endpoint& to, std::string_view path) {
  Fd c = connectTcp(to);
  if (!c.valid() ||
      !sendAll(c.get(), "GET " + std::string(path) +
                            " HTTP/1.1\r\nHost: portd\r\nConnection: close\r\n\r\n")) {
    return "";
  }
  return readExactly(c.get(), 64 << 20);
}

// Requests the target's http listener "web" has received, from its /metrics; -1 if unknown.
double webRequests(const Endpoint& admin) {
  static const std::string kSeries =
      R"(portd_requests_total{listener="web",handler="http",protocol="tcp"} )";
  std::istringstream in(httpGet(admin, "/metrics"));
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(kSeries)) {
      return std::stod(line.substr(kSeries.size()));
    }
  }
  return -1;
}

// Waits until the target has received `n` requests: the generator is running and past its
// start.
::testing::AssertionResult waitForWebRequests(const Endpoint& admin, double n) {
  const Clock::time_point deadline = Clock::now() + kIoTimeout;
  for (;;) {
    const double got = webRequests(admin);
    if (got >= n) {
      return ::testing::AssertionSuccess();
    }
    if (Clock::now() >= deadline) {
      return ::testing::AssertionFailure()
             << "the target received " << got << " requests, not " << n;
    }
    // The poll's pace; each poll is a request to the admin endpoint.
    std::this_thread::sleep_for(5ms);
  }
}

// A TCP socket bound to a loopback port but not listening: connections to it are refused, and
// since it stays bound, no one else can take the port while the test runs.
Fd boundNotListening() {
  Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const Endpoint any = Endpoint::loopback(AF_INET);
  if (!s.valid() || ::bind(s.get(), any.get(), any.length()) != 0) {
    ADD_FAILURE() << "cannot bind a socket: " << std::strerror(errno);
    return Fd();
  }
  return s;
}

class LoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(target_.start(kTargetConfig));
    web_ = target_.listener("web");
    echo_ = target_.listener("echo");
    uecho_ = target_.listener("uecho");
    admin_ = target_.admin();
  }

  void TearDown() override {
    if (!target_killed_) {
      EXPECT_TRUE(target_.stop());
    }
  }

  Daemon target_;
  bool target_killed_ = false;
  Endpoint web_;
  Endpoint echo_;
  Endpoint uecho_;
  Endpoint admin_;
};

// The point of the open model: a target that stalls for a second stalls every request due
// meanwhile, and the corrected latency (from when each request was due) shows it, where the
// latency of each request from its send hides it, since the generator could not send while its
// connections waited.
TEST_F(LoadTest, StalledTargetShowsInCorrectedLatencyOnly) {
  TempFile out("", ".json");
  ChildProcess gen(loadSpec({url("http", web_, "/echo"), "--rate", "1000", "-d", "10s", "-c", "10",
                             "--json", out.path(), "-q"}));
  // About a second into the run, so that the stall falls inside it.
  ASSERT_TRUE(waitForWebRequests(admin_, 1000));
  target_.signal(SIGSTOP);
  std::this_thread::sleep_for(1s);  // the stall: the subject of the test
  target_.signal(SIGCONT);
  ASSERT_EQ(gen.wait(30s), ExitStatus::exited(0)) << gen.stderrText();

  const json r = parseResult(readFile(out.path()));
  ASSERT_TRUE(r.is_object());
  const json& corrected = r["latency"]["corrected"];
  const json& uncorrected = r["latency"]["uncorrected"];
  // About a tenth of the 10,000 requests were due during the stall, waiting from up to a
  // second down to nothing: the top percent waited 0.9 s or more.
  EXPECT_GE(corrected["p99_us"].get<int64_t>(), 500'000) << corrected.dump();
  EXPECT_GE(corrected["max_us"].get<int64_t>(), 900'000) << corrected.dump();
  // Only the first 10 requests due after it stopped, one per connection (0.1%), were sent and
  // saw the stall from their send; the rest waited for a free connection, unsent. Unoptimised
  // sanitizer builds answer more slowly, not a second slower.
  const int64_t uncorrected_limit = kSanitizerBuild ? 250'000 : 100'000;
  EXPECT_LT(uncorrected["p99_us"].get<int64_t>(), uncorrected_limit) << uncorrected.dump();
  EXPECT_GE(uncorrected["max_us"].get<int64_t>(), 900'000) << uncorrected.dump();
  // Every request of the schedule was sent, late or not: the rate asked is the rate achieved.
  EXPECT_EQ(counter(r, "sent"), 10000u);
  EXPECT_EQ(counter(r, "completed"), 10000u);
  EXPECT_NEAR(r["achieved_rate"].get<double>(), 1000.0, 10.0);
  EXPECT_EQ(nonZeroErrors(r), "");
  EXPECT_EQ(r["counters"]["status"]["2xx"].get<uint64_t>(), 10000u);
  EXPECT_FALSE(r["interrupted"].get<bool>());
}

// `portd load merge` adds runs without loss: its histograms are the sums of the runs' count for
// count (decoded here independently of the merge), its counters the sums of theirs.
TEST_F(LoadTest, MergeAddsRunsCountForCount) {
  TempFile a("", ".json");
  TempFile b("", ".json");
  // An open-model run and a closed-model one, at once against the same target; the second on
  // two threads, whose shares of -n add up to it.
  ChildProcess run_a(loadSpec(
      {url("http", web_, "/echo"), "--rate", "500", "-d", "2s", "--json", a.path(), "-q"}));
  ChildProcess run_b(loadSpec({url("http", web_, "/echo?size=100"), "-n", "3000", "-c", "3", "-t",
                               "2", "-d", "2s", "--json", b.path(), "-q"}));
  ASSERT_EQ(run_a.wait(20s), ExitStatus::exited(0)) << run_a.stderrText();
  ASSERT_EQ(run_b.wait(20s), ExitStatus::exited(0)) << run_b.stderrText();
  CommandResult merged = runPortd({"load", "merge", a.path(), b.path(), "--json", "-"});
  ASSERT_EQ(merged.status, ExitStatus::exited(0)) << merged.err;
  // With --json -, stdout is the JSON alone and the summary goes to stderr.
  EXPECT_NE(merged.err.find("merged runs: 2"), std::string::npos) << merged.err;

  const json ja = parseResult(readFile(a.path()));
  const json jb = parseResult(readFile(b.path()));
  const json m = parseResult(merged.out);
  ASSERT_TRUE(ja.is_object() && jb.is_object() && m.is_object());
  EXPECT_EQ(counter(ja, "sent"), 1000u);
  EXPECT_EQ(counter(jb, "sent"), 3000u);

  for (const char* name : kHistograms) {
    SCOPED_TRACE(name);
    std::string why;
    auto ha = load::decodeBase64Histogram(ja["latency"][name]["hdr"].get<std::string>(), &why);
    ASSERT_TRUE(ha) << why;
    auto hb = load::decodeBase64Histogram(jb["latency"][name]["hdr"].get<std::string>(), &why);
    ASSERT_TRUE(hb) << why;
    auto hm = load::decodeBase64Histogram(m["latency"][name]["hdr"].get<std::string>(), &why);
    ASSERT_TRUE(hm) << why;
    ASSERT_EQ(ha->layout().countsLength(), hm->layout().countsLength());
    ASSERT_EQ(hb->layout().countsLength(), hm->layout().countsLength());
    EXPECT_EQ(hm->totalCount(), ha->totalCount() + hb->totalCount());
    EXPECT_EQ(m["latency"][name]["count"].get<int64_t>(), hm->totalCount());
    for (int32_t i = 0; i < hm->layout().countsLength(); ++i) {
      ASSERT_EQ(hm->countAtIndex(i), ha->countAtIndex(i) + hb->countAtIndex(i))
          << "index " << i << ", value " << hm->layout().valueAt(i);
    }
  }
  EXPECT_GT(m["latency"]["corrected"]["count"].get<int64_t>(), 0);

  // Every counter, nested ones (errors, status) included.
  for (const auto& [key, value] : m["counters"].items()) {
    if (value.is_object()) {
      for (const auto& [sub, n] : value.items()) {
        EXPECT_EQ(n.get<uint64_t>(), ja["counters"][key][sub].get<uint64_t>() +
                                         jb["counters"][key][sub].get<uint64_t>())
            << key << "." << sub;
      }
    } else {
      EXPECT_EQ(value.get<uint64_t>(),
                ja["counters"][key].get<uint64_t>() + jb["counters"][key].get<uint64_t>())
          << key;
    }
  }
  EXPECT_EQ(m["sources"].get<int>(), 2);
  // The timelines hold every answer of each run, and the merged one those of both.
  auto answered = [](const json& r) {
    uint64_t n = 0;
    for (const json& second : r["timeline"]) {
      n += second[0].get<uint64_t>();
    }
    return n;
  };
  EXPECT_EQ(answered(ja), counter(ja, "completed"));
  EXPECT_EQ(answered(jb), counter(jb, "completed"));
  EXPECT_EQ(answered(m), counter(ja, "completed") + counter(jb, "completed"));
}

// Bad command lines end with status 2 and a message naming the problem, before any load.
struct BadArgs {
  std::vector<std::string> args;  // after "load"; "URL", "TCP" and "UDP" stand for targets
  std::string says;
};

TEST(LoadCommandLine, RefusesBadInputWithStatus2AndAMessage) {
  Fd nobody = boundNotListening();
  ASSERT_TRUE(nobody.valid());
  const Endpoint where = Endpoint::local(nobody.get());
  TempFile not_json("this is not JSON\n", ".json");
  const std::vector<BadArgs> cases = {
      {{"not-a-url"}, "not a URL"},
      {{"ftp://" + where.toString() + "/"}, "unknown scheme"},
      {{"https://" + where.toString() + "/"}, "https"},
      {{"http://127.0.0.1:0/"}, "bad port"},
      {{"http://127.0.0.1:99999/"}, "bad port"},
      {{"tcp://127.0.0.1"}, "needs a port"},
      {{"URL", "--rate", "100", "--stages", "1s@100"}, "--rate and --stages"},
      {{"URL", "--pipeline", "0"}, "--pipeline"},
      {{"URL", "-p", "5000"}, "--pipeline"},
      {{"URL", "--pipeline", "x"}, "pipeline"},
      {{"TCP", "--size", "0"}, "--size"},
      {{"UDP", "--size", "70000"}, "--size"},
      {{"TCP", "--size", "lots"}, "--size"},
      {{"URL", "--rate", "0"}, "--rate"},
      {{"URL", "--rate", "fast"}, "--rate"},
      {{"URL", "--rate", "-5"}, "--rate"},
      {{"URL", "--stages", "10s"}, "--stages"},
      {{"URL", "--stages", "10s@-1"}, "--stages"},
      {{"URL", "-d", "0s"}, "--duration"},
      {{"URL", "-d", "10"}, "--duration"},
      {{"URL", "--timeout", "soon"}, "--timeout"},
      {{"URL", "-t", "0"}, "--threads"},
      {{"URL", "-c", "1", "-t", "2"}, "--connections"},
      {{"URL", "-c", "-1"}, "--connections"},
      {{"URL", "-m", "get"}, "--method"},
      {{"URL", "-H", "NoColon"}, "--header"},
      {{"URL", "--rate", "100", "-n", "10"}, "--requests"},
      {{"URL", "-p", "4", "--churn", "2"}, "--churn"},
      {{"TCP", "--body", "x"}, "http://"},
      {{"UDP", "-m", "POST"}, "http://"},
      {{"URL", "--format", "sockperf"}, "tcp:// and udp://"},
      {{"URL", "--rate", "100", "--batch"}, "--batch is for the closed model"},
      {{"UDP", "--format", "iperf"}, "--format"},
      {{"UDP", "--format", "sockperf", "--size", "13"}, "at least 14 bytes"},
      {{"URL", "-d", "1s", "--log", "/nonexistent-dir/x.log"}, "interval log"},
      {{}, "URL is required"},
      {{"merge", "/nonexistent-dir/a.json"}, "cannot read"},
      {{"merge", not_json.path()}, "not JSON"},
  };
  for (const BadArgs& c : cases) {
    std::vector<std::string> args = {"load"};
    for (const std::string& a : c.args) {
      args.push_back(a == "URL"   ? url("http", where, "/")
                     : a == "TCP" ? url("tcp", where)
                     : a == "UDP" ? url("udp", where)
                                  : a);
    }
    std::string line;
    for (const std::string& a : args) {
      line += " " + a;
    }
    SCOPED_TRACE("portd" + line);
    // A missing check shows as a run against the refusing port, which ends with status 0.
    CommandResult r = runPortd(args, 15s);
    EXPECT_EQ(r.status, ExitStatus::exited(2)) << r.out << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << "stderr: " << r.err;
    EXPECT_EQ(r.out, "");
  }
}

// Nothing listens: every connect is refused, counted, and retried at a measured pace, and the
// run still ends on time with status 0.
TEST(LoadRefusedTarget, ClosedModelCountsRefusedConnects) {
  Fd nobody = boundNotListening();
  ASSERT_TRUE(nobody.valid());
  TempFile out("", ".json");
  const Clock::time_point start = Clock::now();
  CommandResult r = runPortd({"load", url("http", Endpoint::local(nobody.get()), "/"), "-d", "1s",
                              "-c", "4", "--json", out.path(), "-q"},
                             15s);
  const auto took = Clock::now() - start;
  ASSERT_EQ(r.status, ExitStatus::exited(0)) << r.err;
  EXPECT_LT(took, 10s);
  const json j = parseResult(readFile(out.path()));
  ASSERT_TRUE(j.is_object());
  EXPECT_GT(errorCount(j, "connect_refused"), 0u) << j["counters"].dump();
  // A refused connect is retried after a pause (100 ms: some 40 in all here), not in a tight
  // loop, which would make tens of thousands.
  EXPECT_LE(errorCount(j, "connect_refused"), 200u) << j["counters"].dump();
  EXPECT_EQ(counter(j, "connections"), 0u);
  EXPECT_EQ(counter(j, "sent"), 0u);
  EXPECT_EQ(counter(j, "completed"), 0u);
  EXPECT_EQ(j["latency"]["corrected"]["count"].get<int64_t>(), 0);
  EXPECT_NE(r.out.find("connect_refused"), std::string::npos) << r.out;
}

// The open model against the same: the requests it could not send are counted as unsent, and
// the run ends a timeout after its schedule instead of waiting for a connection forever.
TEST(LoadRefusedTarget, OpenModelEndsOnTime) {
  Fd nobody = boundNotListening();
  ASSERT_TRUE(nobody.valid());
  TempFile out("", ".json");
  ChildProcess gen(loadSpec({url("http", Endpoint::local(nobody.get()), "/"), "--rate", "100", "-d",
                             "1s", "--timeout", "1s", "--json", out.path(), "-q"}));
  // 1 s of schedule and 1 s of timeout, with a margin for a loaded machine.
  ASSERT_EQ(gen.wait(20s), ExitStatus::exited(0)) << gen.stdoutText() << gen.stderrText();
  const json j = parseResult(readFile(out.path()));
  ASSERT_TRUE(j.is_object());
  EXPECT_FALSE(j["interrupted"].get<bool>());
  EXPECT_GT(errorCount(j, "connect_refused"), 0u);
  EXPECT_EQ(errorCount(j, "unsent"), 100u);
  EXPECT_EQ(counter(j, "sent"), 0u);
  EXPECT_EQ(counter(j, "completed"), 0u);
}

// The target dies in the middle of a run: what was outstanding is counted as closed, the
// reconnects as refused, and the generator ends normally with every request accounted for.
// Open model too: the requests due after the death cannot be sent, and must not keep the run
// from ending.
class LoadTargetKilledTest : public LoadTest, public ::testing::WithParamInterface<bool> {};

TEST_P(LoadTargetKilledTest, GeneratorEndsAndCountsTheErrors) {
  const bool open = GetParam();
  TempFile out("", ".json");
  // The run is long enough that the kill, as soon as the target has counted 100 requests,
  // lands in it even on a loaded machine: with 3 s, a sanitizer build once saw the whole run
  // answered before the kill.
  std::vector<std::string> args = {url("http", web_, "/echo"), "-d", "8s", "-c", "4"};
  args.insert(args.end(), {"--timeout", "1s", "--json", out.path(), "-q"});
  if (open) {
    args.insert(args.end(), {"--rate", "2000"});
  }
  ChildProcess gen(loadSpec(args));
  ASSERT_TRUE(waitForWebRequests(admin_, 100));
  target_killed_ = true;
  target_.signal(SIGKILL);
  ASSERT_EQ(target_.waitExit(kIoTimeout), ExitStatus::killed(SIGKILL));
  // 8 s of run and 1 s of timeout, with a margin for a loaded machine.
  ASSERT_EQ(gen.wait(40s), ExitStatus::exited(0)) << gen.stderrText();

  const json j = parseResult(readFile(out.path()));
  ASSERT_TRUE(j.is_object());
  EXPECT_GT(counter(j, "completed"), 0u);
  EXPECT_GT(errorCount(j, "closed"), 0u) << j["counters"].dump();
  EXPECT_GT(errorCount(j, "connect_refused"), 0u) << j["counters"].dump();
  // Each request sent was answered or counted as an error; a connect error has no request.
  EXPECT_EQ(counter(j, "sent"), counter(j, "completed") + errorCount(j, "closed") +
                                    errorCount(j, "timeout") + errorCount(j, "malformed"))
      << j["counters"].dump();
  if (open) {
    // Every request of the schedule was sent or counted as unsent.
    EXPECT_EQ(counter(j, "sent") + errorCount(j, "unsent"), 16000u) << j["counters"].dump();
    EXPECT_GT(errorCount(j, "unsent"), 0u);
  }
  EXPECT_FALSE(j["interrupted"].get<bool>());
}

INSTANTIATE_TEST_SUITE_P(Models, LoadTargetKilledTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Open" : "Closed"; });

// A server that answers what it reads on a connection, once, with `answer` (nothing if it is
// empty), and then closes the connection or waits for its peer to. A thread of its own,
// stopped by the destructor.
class CannedServer {
 public:
  enum class Then { kWaitForPeer, kClose };

  explicit CannedServer(std::string answer, Then then = Then::kWaitForPeer)
      : answer_(std::move(answer)), then_(then), listener_(listenTcp(Endpoint::loopback(AF_INET))) {
    EXPECT_TRUE(listener_.valid());
    EXPECT_EQ(::pipe2(stop_, O_CLOEXEC), 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~CannedServer() {
    (void)!::write(stop_[1], "x", 1);
    thread_.join();
    ::close(stop_[0]);
    ::close(stop_[1]);
  }

  Endpoint address() const { return Endpoint::local(listener_.get()); }
  int answered() const { return answered_.load(); }
  // Reads that brought bytes: requests, or parts of them.
  int received() const { return received_.load(); }

 private:
  void serve() {
    std::vector<Fd> conns;
    std::vector<bool> done;
    for (;;) {
      std::vector<pollfd> fds = {{stop_[0], POLLIN, 0}, {listener_.get(), POLLIN, 0}};
      for (const Fd& c : conns) {
        fds.push_back({c.get(), POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        continue;
      }
      if (fds[0].revents != 0) {
        return;
      }
      if (fds[1].revents != 0) {
        Fd c(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (c.valid()) {
          conns.push_back(std::move(c));
          done.push_back(false);
        }
      }
      for (size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents == 0) {
          continue;
        }
        const size_t k = i - 2;
        char buf[4096];
        const ssize_t n = ::recv(conns[k].get(), buf, sizeof buf, 0);
        received_ += n > 0 ? 1 : 0;
        if (n > 0 && !done[k] && !answer_.empty()) {
          done[k] = ::send(conns[k].get(), answer_.data(), answer_.size(), MSG_NOSIGNAL) > 0;
          answered_ += done[k] ? 1 : 0;
          if (then_ == Then::kClose) {
            conns[k].reset();  // removed below
          }
        } else if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
          conns[k].reset();  // removed below
        }
      }
      for (size_t k = conns.size(); k-- > 0;) {
        if (!conns[k].valid()) {
          conns.erase(conns.begin() + static_cast<ptrdiff_t>(k));
          done.erase(done.begin() + static_cast<ptrdiff_t>(k));
        }
      }
    }
  }

  const std::string answer_;
  const Then then_;
  Fd listener_;
  int stop_[2] = {-1, -1};
  std::atomic<int> answered_{0};
  std::atomic<int> received_{0};
  std::thread thread_;
};

TEST(LoadMalformedAnswers, GarbageIsCountedAsMalformed) {
  CannedServer garbage("garbage\r\n\r\n");
  TempFile out("", ".json");
  CommandResult r = runPortd({"load", url("http", garbage.address(), "/"), "-d", "1s", "-c", "2",
                              "--json", out.path(), "-q"},
                             15s);
  ASSERT_EQ(r.status, ExitStatus::exited(0)) << r.err;
  const json j = parseResult(readFile(out.path()));
  ASSERT_TRUE(j.is_object());
  EXPECT_GT(garbage.answered(), 0);
  EXPECT_GT(errorCount(j, "malformed"), 0u) << j["counters"].dump();
  EXPECT_EQ(counter(j, "completed"), 0u);
  EXPECT_EQ(j["latency"]["corrected"]["count"].get<int64_t>(), 0);
  // Each garbage answer ends its connection, which is replaced.
  EXPECT_GT(counter(j, "connections"), 2u);
}

TEST(LoadMalformedAnswers, WrongEchoIsAMismatch) {
  // The first bytes of an echo are the request's number, 0: "garbage" differs at once.
  CannedServer garbage("garbage\r\n\r\n");
  TempFile out("", ".json");
  CommandResult r = runPortd(
      {"load", url("tcp", garbage.address()), "-d", "1s", "-c", "2", "--json", out.path(), "-q"},
      15s);
  ASSERT_EQ(r.status, ExitStatus::exited(0)) << r.err;
  const json j = parseResult(readFile(out.path()));
  ASSERT_TRUE(j.is_object());
  EXPECT_GT(errorCount(j, "mismatch"), 0u) << j["counters"].dump();
  EXPECT_EQ(counter(j, "completed"), 0u);
}

// --batch: the next requests of a connection go only once all of its pipeline is answered.
// The target here is driven by hand: it answers one of four pipelined requests and watches
// whether a fifth arrives before it answers the other three.
TEST(LoadBatch, ANewBatchWaitsForTheWholePipeline) {
  constexpr size_t kSize = 16;
  for (const bool batch : {false, true}) {
    SCOPED_TRACE(batch ? "--batch" : "no --batch");
    Fd listener = listenTcp(Endpoint::loopback(AF_INET));
    ASSERT_TRUE(listener.valid());
    const Endpoint where = Endpoint::local(listener.get());
    std::vector<std::string> args = {
        "tcp://" + where.toString(), "-c", "1", "-p", "4", "-n", "8", "--size",
        std::to_string(kSize),       "-q"};
    if (batch) {
      args.push_back("--batch");
    }
    ChildProcess load(loadSpec(args));
    // Non-blocking, as the helpers that read with a timeout expect.
    Fd c(::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK));
    ASSERT_TRUE(c.valid());
    const std::string four = readExactly(c.get(), 4 * kSize);
    ASSERT_EQ(four.size(), 4 * kSize);
    ASSERT_TRUE(sendAll(c.get(), four.substr(0, kSize)));
    // Without --batch the answered request is replaced at once; with it, nothing comes. 300 ms
    // is ten times what the generator needs to send on this machine, loaded.
    const std::string more = readExactly(c.get(), kSize, 300ms);
    EXPECT_EQ(more.size(), batch ? 0 : kSize);
    std::string rest = four.substr(kSize) + more;
    ASSERT_TRUE(sendAll(c.get(), rest));
    // The second round: whatever is still to come, answered as it comes.
    for (;;) {
      const std::string next = readExactly(c.get(), kSize, 2s);
      if (next.size() != kSize) {
        break;
      }
      ASSERT_TRUE(sendAll(c.get(), next));
    }
    EXPECT_EQ(load.wait(10s), ExitStatus::exited(0)) << load.stderrText();
  }
}

// A target that reads and never answers: each request times out after --timeout, its
// connection is replaced, and the run still ends on time.
TEST(LoadSilentTarget, RequestsTimeOut) {
  CannedServer silent("");
  TempFile out("", ".json");
  CommandResult r = runPortd({"load", url("http", silent.address(), "/"), "-d", "1s", "-c", "2",
                              "--timeout", "200ms", "--json", out.path(), "-q"},
                             15s);
  ASSERT_EQ(r.status, ExitStatus::exited(0)) << r.err;
  const json j = parseResult(readFile(out.path()));
  ASSERT_TRUE(j.is_object());
  EXPECT_GE(errorCount(j, "timeout"), 2u) << j["counters"].dump();
  EXPECT_EQ(counter(j, "completed"), 0u);
  EXPECT_EQ(counter(j, "sent"), errorCount(j, "timeout") + errorCount(j, "closed"))
      << j["counters"].dump();
  // A timed-out connection cannot be trusted to answer in order, so it is replaced.
  EXPECT_GT(counter(j, "connections"), 2u);
}

// An answer without Content-Length or chunked framing ends where the server closes the
// connection (RFC 9112 section 6.3): a complete answer, not an error. (The worker once failed
// what was outstanding at end of file before the codec could finish the message.)
TEST(LoadHttpFraming, AnswerEndedByCloseIsAnAnswer) {
  CannedServer server("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello, closing now",
                      CannedServer::Then::kClose);
  TempFile out("", ".json");
  CommandResult r = runPortd({"load", url("http", server.address(), "/"), "-d", "1s", "-c", "2",
                              "--json", out.path(), "-q"},
                             15s);
  ASSERT_EQ(r.status, ExitStatus::exited(0)) << r.err;
  const json j = parseResult(readFile(out.path()));
  ASSERT_TRUE(j.is_object());
  EXPECT_GT(counter(j, "completed"), 0u) << j["counters"].dump();
  EXPECT_EQ(nonZeroErrors(j), "");
  EXPECT_EQ(counter(j, "completed"), counter(j, "sent"));
  EXPECT_EQ(j["counters"]["status"]["2xx"].get<uint64_t>(), counter(j, "completed"));
}

// Threads of process `pid`, from /proc; 0 if it cannot be read.
size_t threadCount(pid_t pid) {
  size_t n = 0;
  if (DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/task").c_str())) {
    while (dirent* e = ::readdir(d)) {
      n += e->d_name[0] != '.' ? 1 : 0;
    }
    ::closedir(d);
  }
  return n;
}

// Ctrl-C while one generator thread has already finished its share and another still waits for
// an answer: the run ends and reports, as any interrupted run. (The signal handler once woke the
// finished thread's closed async handle, and libuv aborted.)
TEST(LoadInterruptAfterAThreadFinished, EndsTheRunAndReportsIt) {
#if defined(__SANITIZE_THREAD__)
  constexpr int kRuntimeThreads = 1;  // ThreadSanitizer's own background thread
#else
  constexpr int kRuntimeThreads = 0;
#endif
  CannedServer silent("");
  TempFile out("", ".json");
  // One request in the schedule: thread 0's (request k is thread k mod 2's). Thread 1 has
  // nothing to send and ends at once; thread 0 waits for an answer that never comes.
  ChildProcess gen(loadSpec({url("http", silent.address(), "/"), "--stages", "1s@1", "-t", "2",
                             "-c", "2", "--json", out.path(), "-q"}));
  const Clock::time_point deadline = Clock::now() + kIoTimeout;
  bool ready = false;
  while (!ready && Clock::now() < deadline) {
    // Main thread and thread 0 left, and thread 0's request arrived.
    ready = threadCount(gen.pid()) == 2 + kRuntimeThreads && silent.received() >= 1;
    std::this_thread::sleep_for(5ms);  // the poll's pace
  }
  ASSERT_TRUE(ready) << threadCount(gen.pid()) << " threads, " << silent.received()
                     << " reads at the server";
  gen.signal(SIGINT);
  ASSERT_EQ(gen.wait(10s), ExitStatus::exited(0)) << gen.stderrText();
  const json j = parseResult(readFile(out.path()));
  ASSERT_TRUE(j.is_object());
  EXPECT_TRUE(j["interrupted"].get<bool>());
  EXPECT_EQ(counter(j, "sent"), 1u);
}

// -n is split over the threads; a thread whose share is none sends none (a share of 0 was once
// taken as "no limit").
TEST_F(LoadTest, FewerRequestsThanThreads) {
  TempFile out("", ".json");
  CommandResult r = runPortd({"load", url("http", web_, "/echo"), "-n", "1", "-t", "2", "-c", "2",
                              "-d", "2s", "--json", out.path(), "-q"},
                             15s);
  ASSERT_EQ(r.status, ExitStatus::exited(0)) << r.err;
  const json j = parseResult(readFile(out.path()));
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(counter(j, "sent"), 1u);
  EXPECT_EQ(counter(j, "completed"), 1u);
}

// --busy-poll: the same answers, with the generator's thread polling instead of sleeping. That
// shows in its voluntary context switches (a thread gives up its CPU only when it blocks): one
// or more per request at 200/s for a thread that sleeps between them, next to none for one
// that polls, whatever else the machine is running.
TEST_F(LoadTest, BusyPollNeverSleepsAndAnswersTheSame) {
  auto childSwitches = [] {
    rusage ru{};
    ::getrusage(RUSAGE_CHILDREN, &ru);
    return ru.ru_nvcsw;
  };
  for (bool busy : {false, true}) {
    SCOPED_TRACE(busy ? "--busy-poll" : "blocking");
    TempFile out("", ".json");
    std::vector<std::string> args = {"load", url("tcp", echo_), "--rate",   "200", "-d",
                                     "1s",   "--json",          out.path(), "-q"};
    if (busy) {
      args.push_back("--busy-poll");
    }
    const long before = childSwitches();
    CommandResult r = runPortd(args, 15s);
    const long switches = childSwitches() - before;
    ASSERT_EQ(r.status, ExitStatus::exited(0)) << r.err;
    const json j = parseResult(readFile(out.path()));
    ASSERT_TRUE(j.is_object());
    EXPECT_EQ(nonZeroErrors(j), "");
    EXPECT_EQ(counter(j, "completed"), 200u);
    if (busy) {
      EXPECT_LT(switches, 50) << "voluntary context switches of a run that polls";
    } else {
      EXPECT_GT(switches, 150) << "voluntary context switches of a run that sleeps";
    }
  }
}

TEST_F(LoadTest, TcpEchoPipelinedWithoutErrors) {
  TempFile out("", ".json");
  CommandResult r = runPortd({"load", url("tcp", echo_), "-p", "4", "--size", "1000", "-d", "1s",
                              "--json", out.path(), "-q"},
                             15s);
  ASSERT_EQ(r.status, ExitStatus::exited(0)) << r.err;
  const json j = parseResult(readFile(out.path()));
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(nonZeroErrors(j), "");
  EXPECT_EQ(errorCount(j, "mismatch"), 0u);
  const uint64_t completed = counter(j, "completed");
  EXPECT_GT(completed, 0u);
  // The run waits for what is outstanding when it ends: everything sent is answered, byte for
  // byte.
  EXPECT_EQ(counter(j, "sent"), completed);
  EXPECT_EQ(counter(j, "bytes_out"), completed * 1000);
  EXPECT_EQ(counter(j, "bytes_in"), completed * 1000);
  EXPECT_EQ(counter(j, "connections"), 10u);
  EXPECT_EQ(j["pipeline"].get<int>(), 4);
}

TEST_F(LoadTest, UdpEchoLosesNothing) {
  TempFile out("", ".json");
  CommandResult r = runPortd({"load", url("udp", uecho_), "--rate", "2000", "-d", "1s", "-t", "2",
                              "--json", out.path(), "-q"},
                             15s);
  ASSERT_EQ(r.status, ExitStatus::exited(0)) << r.err;
  const json j = parseResult(readFile(out.path()));
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(errorCount(j, "lost"), 0u);
  EXPECT_EQ(nonZeroErrors(j), "");
  EXPECT_EQ(counter(j, "sent"), 2000u);
  EXPECT_EQ(counter(j, "completed"), counter(j, "sent"));
  EXPECT_EQ(counter(j, "duplicates"), 0u);
  EXPECT_EQ(counter(j, "late"), 0u);
  // At least the 32-byte header; 64 by default.
  EXPECT_EQ(counter(j, "bytes_out"), 2000u * 64);
  EXPECT_EQ(counter(j, "bytes_in"), 2000u * 64);
  EXPECT_GE(j["jitter_us"].get<double>(), 0.0);
}

// SIGINT (Ctrl-C) and SIGTERM end a run early, of either model; it still reports, and says it
// was interrupted. A target per case: its /metrics is polled only before any connection closed
// (see the descriptor notes in tests/tsan.supp).
class LoadInterruptTest : public LoadTest,
                          public ::testing::WithParamInterface<std::tuple<int, bool>> {};

TEST_P(LoadInterruptTest, EndsTheRunAndReportsIt) {
  const auto [signum, open] = GetParam();
  TempFile out("", ".json");
  std::vector<std::string> args = {url("http", web_, "/echo"), "-d", "30s"};
  args.insert(args.end(), {"--json", out.path(), "-q"});
  if (open) {
    args.insert(args.end(), {"--rate", "1000"});
  }
  ChildProcess gen(loadSpec(args));
  ASSERT_TRUE(waitForWebRequests(admin_, 100));
  gen.signal(signum);
  const Clock::time_point signalled = Clock::now();
  // Interrupting takes milliseconds; a run that ignored it would take 30 s.
  ASSERT_EQ(gen.wait(10s), ExitStatus::exited(0)) << gen.stderrText();
  EXPECT_LT(Clock::now() - signalled, 5s);
  const std::string summary = gen.stdoutText();
  EXPECT_NE(summary.find("interrupted"), std::string::npos) << summary;
  EXPECT_NE(summary.find("answered"), std::string::npos) << summary;

  const json j = parseResult(readFile(out.path()));
  ASSERT_TRUE(j.is_object());
  EXPECT_TRUE(j["interrupted"].get<bool>());
  EXPECT_LT(j["seconds"].get<double>(), 10.0);
  EXPECT_GT(counter(j, "completed"), 0u);
  // Requests still outstanding, or not yet due, when it was interrupted are no errors.
  EXPECT_EQ(nonZeroErrors(j), "");
}

INSTANTIATE_TEST_SUITE_P(Signals, LoadInterruptTest,
                         ::testing::Combine(::testing::Values(SIGINT, SIGTERM), ::testing::Bool()),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) == SIGINT ? "SIGINT"
                                                                                : "SIGTERM") +
                                  (std::get<1>(info.param) ? "_Open" : "_Closed");
                         });

}  // namespace
}  // namespace portd::itest
