// `portd load resp://` against a real redis-server and portd's own resp handler, and `portd load
// smtp://` against Postfix's smtp-sink, each started by the test on a port that was free a
// moment ago and stopped by its pid.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.h"
#include "external_server.h"
#include "net_client.h"

namespace portd::itest {
namespace {

using nlohmann::json;

bool redisAnswersPing(const Endpoint& to) {
  Fd fd = connectTcp(to);
  return fd.valid() && sendAll(fd.get(), "PING\r\n", 1s) &&
         readExactly(fd.get(), 7, 1s) == "+PONG\r\n";
}

bool smtpGreets(const Endpoint& to) {
  Fd fd = connectTcp(to);
  if (!fd.valid() || readExactly(fd.get(), 3, 1s) != "220") {
    return false;
  }
  (void)sendAll(fd.get(), "QUIT\r\n", 1s);
  return true;
}

// smtp-sink refuses to run as root unless told whom to run as.
std::vector<std::string> smtpSinkArgs(const std::vector<std::string>& options) {
  std::vector<std::string> args;
  if (::geteuid() == 0) {
    args = {"-u", "nobody"};
  }
  args.insert(args.end(), options.begin(), options.end());
  args.push_back("127.0.0.1:{port}");
  args.push_back("100");  // backlog
  return args;
}

bool nginxAnswers(const Endpoint& to) {
  Fd fd = connectTcp(to);
  return fd.valid() && sendAll(fd.get(), "GET /hello HTTP/1.0\r\n\r\n", 1s) &&
         readExactly(fd.get(), 12, 1s) == "HTTP/1.1 200";
}

// http:// against a real server of another make: nginx, keep-alive and pipelined.
TEST(LoadHttpTest, AgainstNginxEveryAnswerIs2xx) {
  const std::string nginx = findProgram("nginx");
  if (nginx.empty()) {
    GTEST_SKIP() << "nginx is not installed";
  }
  TempDir dir;
  const std::string conf = dir.path() + "/nginx.conf";
  ExternalServer server;
  ASSERT_TRUE(server.start(
      nginx, {"-c", conf, "-e", dir.path() + "/error.log"}, nginxAnswers, [&](uint16_t port) {
        std::ofstream(conf) << "worker_processes 1;\ndaemon off;\npid " << dir.path()
                            << "/nginx.pid;\nerror_log " << dir.path()
                            << "/error.log;\nevents { worker_connections 256; }\nhttp {\n"
                            << "  access_log off;\n  client_body_temp_path " << dir.path()
                            << ";\n  proxy_temp_path " << dir.path() << ";\n  fastcgi_temp_path "
                            << dir.path() << ";\n  uwsgi_temp_path " << dir.path()
                            << ";\n  scgi_temp_path " << dir.path()
                            << ";\n  server {\n    listen 127.0.0.1:" << port
                            << ";\n    location /hello { return 200 \"hello\\n\"; }\n  }\n}\n";
      }));
  TempFile result("", ".json");
  CommandResult r = runPortd({"load", "http://127.0.0.1:" + server.port() + "/hello", "-n", "5000",
                              "-c", "4", "-p", "4", "--json", result.path()},
                             60s);
  ASSERT_EQ(r.status, ExitStatus::exited(0)) << r.err;
  const json j = readJson(result.path());
  ASSERT_TRUE(j.is_object()) << "not JSON: " << result.path();
  EXPECT_EQ(j["counters"]["completed"].get<uint64_t>(), 5000u) << j["counters"].dump();
  EXPECT_EQ(j["counters"]["status"]["2xx"].get<uint64_t>(), 5000u) << j["counters"].dump();
  EXPECT_EQ(errorTotal(j), 0u) << j["counters"].dump();
}

// resp:// against redis-server and against portd's own resp handler (one worker): the same
// commands, the same counts.
class LoadRespTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    cli_ = findProgram("redis-cli");
    ASSERT_NE(cli_, "") << "redis-cli is not installed (.ci/setup installs redis-tools)";
    if (GetParam() == "redis") {
      const std::string redis = findProgram("redis-server");
      ASSERT_NE(redis, "") << "redis-server is not installed (.ci/setup installs it)";
      ASSERT_TRUE(server_.start(redis,
                                {"--port", "{port}", "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", "/tmp"},
                                redisAnswersPing));
      port_ = server_.port();
      return;
    }
    ASSERT_TRUE(
        portd_.start("[server]\nworkers = 1\n[[listener]]\nname = \"resp\"\nprotocol = \"tcp\"\n"
                     "address = \"127.0.0.1:0\"\nhandler = \"resp\"\n"));
    port_ = std::to_string(portd_.listener("resp").port());
  }
  void TearDown() override {
    if (GetParam() == "portd" && !HasFatalFailure()) {
      EXPECT_TRUE(portd_.stop());
    }
  }
  // redis-cli ARGS... against the target; its output.
  std::string cli(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"-p", port_};
    all.insert(all.end(), args.begin(), args.end());
    ChildProcess p({cli_, all, std::nullopt, {}, {}, ""});
    EXPECT_EQ(p.wait(10s), ExitStatus::exited(0)) << p.stderrText();
    return p.stdoutText();
  }

  std::string cli_;
  std::string port_;
  ExternalServer server_;
  Daemon portd_;
};

INSTANTIATE_TEST_SUITE_P(RedisAndPortd, LoadRespTest, ::testing::Values("redis", "portd"),
                         [](const auto& info) { return info.param; });

TEST_P(LoadRespTest, AMixSetsKeysWithoutErrors) {
  TempFile result("", ".json");
  CommandResult r = runPortd({"load", "resp://127.0.0.1:" + port_, "-d", "2s", "--mix",
                              "get=8,set=1,ping=1", "-p", "16", "--json", result.path()},
                             60s);
  ASSERT_EQ(r.status, ExitStatus::exited(0)) << r.err;
  EXPECT_NE(r.out.find("resp error replies: 0 of"), std::string::npos) << r.out;
  const json j = readJson(result.path());
  ASSERT_TRUE(j.is_object()) << "not JSON: " << result.path();
  EXPECT_GT(j["counters"]["completed"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["counters"]["completed"], j["counters"]["sent"]);
  EXPECT_EQ(errorTotal(j), 0u) << j["counters"].dump();
  EXPECT_EQ(j["counters"]["resp_errors"].get<uint64_t>(), 0u);
  EXPECT_GT(std::stoull(cli({"dbsize"})), 0u) << "no key was SET";
}

TEST_P(LoadRespTest, ErrorRepliesAreAnswersCountedApart) {
  // INCR on a key that holds no number: "-ERR value is not an integer". One connection, so
  // that the mix's rounds of three make exactly one INCR in three requests.
  EXPECT_EQ(cli({"set", "counter:000000", "abc"}), "OK\n");
  TempFile result("", ".json");
  CommandResult r = runPortd({"load", "resp://127.0.0.1:" + port_, "-n", "300", "-c", "1", "--keys",
                              "1", "--mix", "incr=1,ping=2", "--json", result.path()},
                             60s);
  ASSERT_EQ(r.status, ExitStatus::exited(0)) << r.err;
  const json j = readJson(result.path());
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["counters"]["completed"].get<uint64_t>(), 300u);
  EXPECT_EQ(j["counters"]["resp_errors"].get<uint64_t>(), 100u);
  EXPECT_EQ(errorTotal(j), 0u) << j["counters"].dump();
  EXPECT_NE(r.out.find("resp error replies: 100 of 300"), std::string::npos) << r.out;

  // Read back, as `merge` does: the count survives and adds up.
  TempFile merged("", ".json");
  CommandResult m =
      runPortd({"load", "merge", result.path(), result.path(), "--json", merged.path()});
  ASSERT_EQ(m.status, ExitStatus::exited(0)) << m.err;
  EXPECT_EQ(readJson(merged.path())["counters"]["resp_errors"].get<uint64_t>(), 200u);
  EXPECT_NE(m.out.find("resp error replies: 200 of 600"), std::string::npos) << m.out;
}

TEST(LoadRespCommandTest, ABadMixIsRefusedBeforeTheRun) {
  CommandResult r = runPortd({"load", "resp://127.0.0.1:1", "--mix", "get=8,flushall=1"});
  EXPECT_EQ(r.status, ExitStatus::exited(2)) << r.err;
  EXPECT_NE(r.err.find("--mix"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("flushall"), std::string::npos) << r.err;
}

class LoadSmtpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sink_ = findProgram("smtp-sink");
    if (sink_.empty()) {
      GTEST_SKIP() << "smtp-sink (postfix) is not installed";
    }
  }

  // Runs `portd load` against an smtp-sink started with `sink_options`; the result's JSON,
  // also left in `result_`.
  json run(const std::vector<std::string>& sink_options, const std::vector<std::string>& load) {
    ExternalServer server;
    EXPECT_TRUE(server.start(sink_, smtpSinkArgs(sink_options), smtpGreets));
    result_ = std::make_unique<TempFile>("", ".json");
    std::vector<std::string> args = {"load", "smtp://127.0.0.1:" + server.port()};
    args.insert(args.end(), load.begin(), load.end());
    args.insert(args.end(), {"--json", result_->path()});
    CommandResult r = runPortd(args, 60s);
    EXPECT_EQ(r.status, ExitStatus::exited(0)) << r.err;
    out_ = r.out;
    return readJson(result_->path());
  }

  std::string sink_;
  std::string out_;
  std::unique_ptr<TempFile> result_;
};

TEST_F(LoadSmtpTest, MessagesThroughSmtpSinkAreAllTaken) {
  const json j = run({}, {"-n", "200", "-c", "4"});
  ASSERT_TRUE(j.is_object());
  const json& c = j["counters"];
  EXPECT_EQ(c["sent"].get<uint64_t>(), 200u);
  EXPECT_EQ(c["completed"].get<uint64_t>(), 200u);
  EXPECT_EQ(c["smtp_replies"]["2xx"].get<uint64_t>(), 200u) << c.dump();
  EXPECT_EQ(c["smtp_replies"]["4xx"].get<uint64_t>(), 0u);
  EXPECT_EQ(c["smtp_replies"]["5xx"].get<uint64_t>(), 0u);
  EXPECT_EQ(errorTotal(j), 0u) << c.dump();
  EXPECT_EQ(c["connections"].get<uint64_t>(), 4u);
  EXPECT_NE(out_.find("smtp replies: 2xx 200, 4xx 0, 5xx 0"), std::string::npos) << out_;
}

TEST_F(LoadSmtpTest, RefusedMessagesAreCountedAsReplyClassesNotErrors) {
  // -f DATA: DATA refused with a 5xx; -f also withdraws PIPELINING, so this is the one
  // command per reply path.
  const json hard = run({"-f", "DATA"}, {"-n", "50", "-c", "2", "-p", "2"});
  ASSERT_TRUE(hard.is_object());
  EXPECT_EQ(hard["counters"]["completed"].get<uint64_t>(), 50u);
  EXPECT_EQ(hard["counters"]["smtp_replies"]["5xx"].get<uint64_t>(), 50u)
      << hard["counters"].dump();
  EXPECT_EQ(errorTotal(hard), 0u) << hard["counters"].dump();
  const std::unique_ptr<TempFile> hard_file = std::move(result_);

  // -r RCPT: recipients refused with a 4xx, on sessions that end with QUIT every 5 messages.
  const json soft = run({"-r", "RCPT"}, {"-n", "50", "-c", "2", "--churn", "5"});
  ASSERT_TRUE(soft.is_object());
  EXPECT_EQ(soft["counters"]["completed"].get<uint64_t>(), 50u);
  EXPECT_EQ(soft["counters"]["smtp_replies"]["4xx"].get<uint64_t>(), 50u)
      << soft["counters"].dump();
  EXPECT_EQ(errorTotal(soft), 0u) << soft["counters"].dump();
  EXPECT_GE(soft["counters"]["connections"].get<uint64_t>(), 10u);

  // Both read back and merged: the classes add up.
  TempFile merged("", ".json");
  CommandResult m =
      runPortd({"load", "merge", hard_file->path(), result_->path(), "--json", merged.path()});
  ASSERT_EQ(m.status, ExitStatus::exited(0)) << m.err;
  const json both = readJson(merged.path());
  EXPECT_EQ(both["counters"]["smtp_replies"]["4xx"].get<uint64_t>(), 50u);
  EXPECT_EQ(both["counters"]["smtp_replies"]["5xx"].get<uint64_t>(), 50u);
  EXPECT_NE(m.out.find("smtp replies: 2xx 0, 4xx 50, 5xx 50"), std::string::npos) << m.out;
}

TEST_F(LoadSmtpTest, ChurnEndsEachSessionWithQuitAndIsNoError) {
  const json j = run({}, {"-n", "100", "-c", "2", "--churn", "10", "--size", "10KiB"});
  ASSERT_TRUE(j.is_object());
  const json& c = j["counters"];
  EXPECT_EQ(c["completed"].get<uint64_t>(), 100u);
  EXPECT_EQ(c["smtp_replies"]["2xx"].get<uint64_t>(), 100u) << c.dump();
  EXPECT_EQ(errorTotal(j), 0u) << c.dump();
  EXPECT_GE(c["connections"].get<uint64_t>(), 10u);
  // Each message carried its 10 KiB body (and headers, and dot-stuffing).
  EXPECT_GT(c["bytes_out"].get<uint64_t>(), 100u * 10240u);
}

// smtp:// against portd's own smtp handler: every message taken; and with every second message
// refused after its data, half counted as 5xx replies, none as errors.
TEST(LoadSmtpOwnTest, MessagesThroughPortdsSmtpHandler) {
  for (const std::string& fault :
       {std::string(), std::string("fault_data_end = \"550:every=2\"\n")}) {
    SCOPED_TRACE(fault);
    Daemon d;
    ASSERT_TRUE(
        d.start("[server]\nworkers = 1\n[[listener]]\nname = \"smtp\"\nprotocol = \"tcp\"\n"
                "address = \"127.0.0.1:0\"\nhandler = \"smtp\"\n[listener.options]\n" +
                fault));
    TempFile result("", ".json");
    CommandResult r = runPortd({"load", "smtp://" + d.listener("smtp").toString(), "-n", "200",
                                "-c", "4", "-p", "2", "--json", result.path(), "-q"},
                               60s);
    ASSERT_EQ(r.status, ExitStatus::exited(0)) << r.err;
    const json j = readJson(result.path());
    ASSERT_TRUE(j.is_object());
    const json& c = j["counters"];
    EXPECT_EQ(c["completed"].get<uint64_t>(), 200u);
    EXPECT_EQ(errorTotal(j), 0u) << c.dump();
    const uint64_t refused = fault.empty() ? 0 : 100;
    EXPECT_EQ(c["smtp_replies"]["2xx"].get<uint64_t>(), 200u - refused) << c.dump();
    EXPECT_EQ(c["smtp_replies"]["5xx"].get<uint64_t>(), refused) << c.dump();
    EXPECT_TRUE(d.stop());
  }
}

}  // namespace
}  // namespace portd::itest
