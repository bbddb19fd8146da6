// `portd load dns://` against a real DNS server, Knot DNS (knotd), started here with a zone of
// the test's own on a port found free, and against portd's own dns handler with the same zone. The
// answers are counted by RCODE in the proportions the queries ask for, a zone it does not serve is
// REFUSED, and an answer too big for 512 bytes is truncated (TC=1) unless the queries carry EDNS.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "child_process.h"
#include "daemon_process.h"
#include "net_client.h"

namespace portd::itest {
namespace {

using nlohmann::json;

constexpr const char* kKnotd = "/usr/sbin/knotd";
constexpr const char* kKdig = "/usr/bin/kdig";

// 600 bytes of TXT: more than a 512-byte answer without EDNS holds.
std::string bigTxt() {
  const std::string chunk = "\"" + std::string(200, 'x') + "\"";
  return chunk + " " + chunk + " " + chunk;
}

// The zone both servers serve: Knot DNS and portd's own dns handler.
std::string zoneText() {
  return "$ORIGIN example.test.\n"
         "$TTL 300\n"
         "@    SOA  ns hostmaster 1 3600 900 604800 300\n"
         "@    NS   ns\n"
         "ns   A    127.0.0.1\n"
         "www  A    192.0.2.1\n"
         "www  AAAA 2001:db8::1\n"
         "www  MX   10 mail\n"
         "mail A    192.0.2.25\n"
         "www  TXT  \"portd load\"\n"
         "big  TXT  " +
         bigTxt() + "\n";
}

// Knot DNS serving example.test from a temporary folder, as the current user, on 127.0.0.1 and
// a port that was free when it started. Stopped by its pid (SIGTERM) in stop(), or killed by
// ChildProcess's destructor if a test fails first.
class Knot {
 public:
  Knot() {
    char dir[] = "/tmp/portd-knot.XXXXXX";
    if (::mkdtemp(dir) != nullptr) {
      dir_ = dir;
    }
  }
  ~Knot() {
    process_.reset();
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  ::testing::AssertionResult start() {
    if (dir_.empty()) {
      return ::testing::AssertionFailure() << "no temporary folder";
    }
    std::ofstream(dir_ + "/example.test.zone") << zoneText();
    // The port was free a moment ago; should something take it before knotd binds it, knotd
    // exits or never answers, and the next attempt tries another.
    std::string log;
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = freeUdpAndTcpPort();
      // Eight UDP workers: eight sockets (SO_REUSEPORT), each with its own receive buffer of
      // net.core.rmem_default (208 KiB, a few hundred queries), so that a knotd starved of CPU
      // for a moment on a busy machine queues about a second of the tests' queries, not a
      // tenth, before it drops any.
      std::ofstream(dir_ + "/knot.conf") << "server:\n"
                                            "    rundir: \""
                                         << dir_ << "\"\n    listen: 127.0.0.1@" << port_
                                         << "\n"
                                            "    udp-workers: 8\n"
                                            "    tcp-workers: 1\n"
                                            "    background-workers: 1\n"
                                            "control:\n"
                                            "    listen: \""
                                         << dir_
                                         << "/knot.sock\"\n"
                                            "database:\n"
                                            "    storage: \""
                                         << dir_
                                         << "/db\"\n"
                                            "log:\n"
                                            "  - target: stderr\n"
                                            "    any: info\n"
                                            "zone:\n"
                                            "  - domain: example.test\n"
                                            "    storage: \""
                                         << dir_
                                         << "\"\n"
                                            "    file: example.test.zone\n";
      process_ = std::make_unique<ChildProcess>(
          ChildProcess::Spec{kKnotd, {"-c", dir_ + "/knot.conf"}, std::nullopt, {}, {}, ""});
      if (answers()) {
        return ::testing::AssertionSuccess();
      }
      log = process_->stderrText();
      process_.reset();
    }
    return ::testing::AssertionFailure() << "knotd did not answer; its log:\n" << log;
  }

  // SIGTERM, and knotd's own exit status 0.
  ::testing::AssertionResult stop() {
    process_->signal(SIGTERM);
    const ExitStatus status = process_->wait(10s);
    if (status != ExitStatus::exited(0)) {
      return ::testing::AssertionFailure() << "knotd " << status << "; its log:\n"
                                           << process_->stderrText();
    }
    return ::testing::AssertionSuccess();
  }

  uint16_t port() const { return port_; }
  std::string url() const { return "dns://127.0.0.1:" + std::to_string(port_); }
  const std::string& dir() const { return dir_; }

 private:
  // Waits until `kdig example.test SOA` gets an answer (the zone is loaded, the port bound), or
  // knotd exits, or 10 s pass. Between two tries it waits for knotd to log something new, at
  // most 100 ms: knotd logs as it binds and loads.
  bool answers() {
    const Clock::time_point deadline = Clock::now() + 10s;
    // Asked earlier, kdig's query may wait in the socket of a server not yet serving, for
    // kdig's whole timeout.
    process_->waitForStderr(
        [](std::string_view log) { return log.find("server started") != std::string_view::npos; },
        10s);
    while (Clock::now() < deadline) {
      ChildProcess kdig({kKdig,
                         {"@127.0.0.1", "-p", std::to_string(port_), "example.test", "SOA",
                          "+retry=0", "+timeout=1"},
                         std::nullopt,
                         {},
                         {},
                         ""});
      if (kdig.wait(5s) == ExitStatus::exited(0) &&
          kdig.stdoutText().find("status: NOERROR") != std::string::npos) {
        return true;
      }
      if (!process_->wait(0s).isRunning()) {
        return false;
      }
      const size_t seen = process_->stderrText().size();
      process_->waitForStderr([seen](std::string_view log) { return log.size() > seen; }, 100ms);
    }
    return false;
  }

  std::string dir_;
  uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

// Each test runs against Knot DNS and against portd's own dns handler (one worker, the same
// zone inline): the answers must be counted the same.
class LoadDnsTest : public ::testing::TestWithParam<std::string> {
 protected:
  bool knot() const { return GetParam() == "knot"; }

  void SetUp() override {
    if (knot()) {
      if (::access(kKnotd, X_OK) != 0 || ::access(kKdig, X_OK) != 0) {
        GTEST_SKIP() << "Knot DNS is not installed (knot, knot-dnsutils)";
      }
      ASSERT_TRUE(knot_.start());
      url_ = knot_.url();
      return;
    }
    std::string zone = zoneText();
    ASSERT_TRUE(
        portd_.start("[server]\nworkers = 1\n[[listener]]\nname = \"dns\"\n"
                     "protocol = \"udp\"\naddress = \"127.0.0.1:0\"\nhandler = \"dns\"\n"
                     "[listener.options]\nzone = \"\"\"\n" +
                     zone + "\"\"\"\n"));
    url_ = "dns://" + portd_.listener("dns").toString();
  }
  void TearDown() override {
    if (!IsSkipped() && !HasFatalFailure()) {
      EXPECT_TRUE(knot() ? knot_.stop() : portd_.stop());
    }
  }

  // Runs `portd load` with `args` and --json, and returns the counters of its result.
  json run(std::vector<std::string> args, std::string* summary = nullptr) {
    TempFile result("", ".json");
    args.insert(args.begin(), {"load", url_});
    args.insert(args.end(), {"--quiet", "--json", result.path()});
    const CommandResult r = runPortd(args, 60s);
    EXPECT_EQ(r.status, ExitStatus::exited(0)) << r.err;
    if (summary != nullptr) {
      *summary = r.out;
    }
    std::ifstream f(result.path());
    json j = json::parse(f, nullptr, false);
    if (j.is_discarded() || !j.contains("counters")) {
      ADD_FAILURE() << "no result in " << result.path() << "; stderr:\n" << r.err;
      return json::object();
    }
    return j["counters"];
  }

  // A file of the test's own (removed with the fixture).
  std::string writeFile(const std::string& text) {
    files_.push_back(std::make_unique<TempFile>(text, ".txt"));
    return files_.back()->path();
  }

  static void expectNoErrors(const json& c) {
    for (const auto& [kind, n] : c["errors"].items()) {
      EXPECT_EQ(n, 0) << kind;
    }
    EXPECT_EQ(c["duplicates"], 0);
    EXPECT_EQ(c["late"], 0);
  }

  // The RCODE counts other than those named in `expected` are all 0.
  static void expectRcodes(const json& c, const std::map<std::string, uint64_t>& expected) {
    for (const auto& [name, n] : c["rcode"].items()) {
      const auto it = expected.find(name);
      EXPECT_EQ(n.get<uint64_t>(), it == expected.end() ? 0 : it->second) << name;
    }
  }

  Knot knot_;
  Daemon portd_;
  std::string url_;
  std::vector<std::unique_ptr<TempFile>> files_;
};

TEST_P(LoadDnsTest, CountsNoErrorAndNxdomainInTheProportionOfTheQueries) {
  std::string summary;
  const json c = run({"--rate", "2000", "-d", "2s", "--query", "www.example.test A", "--query",
                      "nope.example.test A", "--query", "www.example.test MX"},
                     &summary);
  // 4,000 requests, request k asking query k mod 3: 1,334 + 1,333 NOERROR, 1,333 NXDOMAIN.
  EXPECT_EQ(c["sent"], 4000);
  // Unless the kernel dropped some at the server's socket, which a sanitizer build stalled
  // among other tests has seen (113 of them): those are the loss, and nothing else is.
  const uint16_t port = static_cast<uint16_t>(std::stoi(url_.substr(url_.rfind(':') + 1)));
  if (const uint64_t dropped = udpDrops(port); dropped > 0) {
    EXPECT_EQ(c["completed"].get<uint64_t>() + dropped, 4000u);
    EXPECT_EQ(c["errors"]["lost"].get<uint64_t>(), dropped);
    EXPECT_EQ(c["rcode"]["NOERROR"].get<uint64_t>() + c["rcode"]["NXDOMAIN"].get<uint64_t>(),
              c["completed"].get<uint64_t>());
    return;
  }
  EXPECT_EQ(c["completed"], 4000);
  expectNoErrors(c);
  expectRcodes(c, {{"NOERROR", 2667}, {"NXDOMAIN", 1333}});
  EXPECT_EQ(c["truncated"], 0);
  EXPECT_NE(summary.find("dns: NOERROR 2667 NXDOMAIN 1333\n"), std::string::npos) << summary;
}

TEST_P(LoadDnsTest, CountsRefusedOutsideTheZoneAndTruncatedAnswersWithoutEdns) {
  // A query file as dnsperf reads it: comments, a blank line, one "NAME TYPE" a line.
  const std::string file =
      writeFile("; not served here\nwww.example.org A\n\n# 600 bytes\nbig.example.test TXT\n");
  const json c = run({"-n", "400", "-c", "1", "-p", "8", "--queries", file});
  EXPECT_EQ(c["completed"], 400);
  expectNoErrors(c);
  expectRcodes(c, {{"REFUSED", 200}, {"NOERROR", 200}});
  EXPECT_EQ(c["truncated"], 200);
}

TEST_P(LoadDnsTest, EdnsMakesRoomForTheAnswerThatWasTruncated) {
  const json c =
      run({"-n", "200", "-c", "1", "-p", "8", "--edns", "--query", "big.example.test TXT"});
  EXPECT_EQ(c["completed"], 200);
  expectNoErrors(c);
  expectRcodes(c, {{"NOERROR", 200}});
  EXPECT_EQ(c["truncated"], 0);
}

INSTANTIATE_TEST_SUITE_P(KnotAndPortd, LoadDnsTest, ::testing::Values("knot", "portd"),
                         [](const auto& info) { return info.param; });

// Refused before anything is sent: no server needed.
TEST(LoadDnsCommandTest, RefusesABadQueryNamingIt) {
  const CommandResult r =
      runPortd({"load", "dns://127.0.0.1", "--query", "www.example.test A", "--query", "www..x A"});
  EXPECT_EQ(r.status, ExitStatus::exited(2));
  EXPECT_NE(r.err.find("--query \"www..x A\""), std::string::npos) << r.err;
  const CommandResult none = runPortd({"load", "dns://127.0.0.1", "-d", "1s"});
  EXPECT_EQ(none.status, ExitStatus::exited(2));
  EXPECT_NE(none.err.find("--query"), std::string::npos) << none.err;
}

}  // namespace
}  // namespace portd::itest
