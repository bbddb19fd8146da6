// The smtp handler against real senders: swaks (with and without pipelining) and Postfix's
// smtp-source (many messages over parallel sessions), in drop mode and into a Maildir, with
// its limits and fault knobs. .ci/setup installs both programs.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.h"
#include "net_client.h"

namespace portd::itest {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSwaks = "/usr/bin/swaks";
constexpr const char* kSmtpSource = "/usr/sbin/smtp-source";

// A directory of the test's own, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "portd-smtp-XXXXXX").string();
    path_ = ::mkdtemp(templ.data()) != nullptr ? templ : "";
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<std::string> filesIn(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    names.push_back(e.path().filename().string());
  }
  return names;
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct ClientRun {
  ExitStatus status = ExitStatus::running();
  std::string out;
};

// Runs a client program to its end (at most 60 s; killed by the ChildProcess if it lingers).
ClientRun runClient(const std::string& path, const std::vector<std::string>& args) {
  ChildProcess child(ChildProcess::Spec{path, args, std::nullopt, {}, {}, ""});
  ClientRun r;
  r.status = child.wait(60s);
  r.out = child.stdoutText() + child.stderrText();
  return r;
}

ClientRun swaks(const Endpoint& server, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {
      "--server", server.toString(),  "--from",    "sender@example.org",
      "--to",     "rcpt@example.net", "--timeout", "10"};
  args.insert(args.end(), extra.begin(), extra.end());
  return runClient(kSwaks, args);
}

// The DATA portion as swaks sent it (its " -> " lines between the 354 and the lone dot), with
// the dots it stuffed removed: what the server must store.
std::string sentMessage(const std::string& transcript) {
  std::istringstream in(transcript);
  std::string message;
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (!inside) {
      inside = line.starts_with("<-  354 ");
      continue;
    }
    if (!line.starts_with(" -> ")) {
      continue;
    }
    std::string text = line.substr(4);
    if (text.ends_with('\r')) {
      text.pop_back();  // swaks prints the line's CR too
    }
    if (text == ".") {
      break;
    }
    if (text.starts_with(".")) {
      text.erase(0, 1);
    }
    message += text + "\r\n";
  }
  return message;
}

std::string metrics(const Endpoint& admin) {
  Fd fd = connectTcp(admin);
  if (!fd.valid() ||
      !sendAll(fd.get(), "GET /metrics HTTP/1.1\r\nHost: portd\r\nConnection: close\r\n\r\n")) {
    ADD_FAILURE() << "cannot read /metrics from " << admin;
    return "";
  }
  return readExactly(fd.get(), size_t{1} << 24);
}

// portd_handler_events_total{name=...} of the listener "smtp"; -1 when absent.
double events(const Endpoint& admin, const std::string& name) {
  const std::string series =
      R"(portd_handler_events_total{listener="smtp",handler="smtp",protocol="tcp",name=")" + name +
      "\"} ";
  std::istringstream in(metrics(admin));
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(series)) {
      return std::stod(line.substr(series.size()));
    }
  }
  return -1;
}

std::string config(const std::string& options, int workers = 1) {
  return "[server]\nworkers = " + std::to_string(workers) +
         "\nshutdown_timeout = \"5s\"\n\n[admin]\naddress = \"127.0.0.1:0\"\n\n"
         "[[listener]]\nname = \"smtp\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:0\"\n"
         "handler = \"smtp\"\n\n[listener.options]\n" +
         options;
}

// A message whose lines start with dots, which the sender stuffs and portd must unstuff.
const char kMessage[] =
    "Subject: dots\n"
    "\n"
    ".a line that starts with a dot\n"
    "..two dots\n"
    ".\n"
    "the end\n";

class SmtpHandlerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (daemon_started_) {
      EXPECT_TRUE(daemon_.stop());
    }
  }
  void start(const std::string& options, int workers = 1) {
    ASSERT_TRUE(daemon_.start(config(options, workers)));
    daemon_started_ = true;
    smtp_ = daemon_.listener("smtp");
  }

  TempDir dir_;
  Daemon daemon_;
  bool daemon_started_ = false;
  Endpoint smtp_;
};

void expectDeliveredIntoMaildir(bool pipelining) {
  TempDir dir;
  Daemon daemon;
  ASSERT_TRUE(daemon.start(config("maildir = \"" + dir.path() + "/mail\"\n")));
  const std::string message_file = dir.path() + "/message.txt";
  std::ofstream(message_file) << kMessage;
  std::vector<std::string> extra = {"--data", message_file};
  if (pipelining) {
    extra.push_back("--pipeline");
  }
  const ClientRun r = swaks(daemon.listener("smtp"), extra);
  EXPECT_EQ(r.status, ExitStatus::exited(0)) << r.out;
  EXPECT_NE(r.out.find("<-  250 2.0.0 Ok: queued"), std::string::npos) << r.out;
  if (pipelining) {
    // The whole envelope went in one write, so swaks saw the replies come in together.
    EXPECT_NE(r.out.find(" -> MAIL FROM:<sender@example.org>\n -> RCPT TO:<rcpt@example.net>\n"
                         " -> DATA\n<-  250 2.1.0 Ok\n<-  250 2.1.5 Ok\n<-  354 "),
              std::string::npos)
        << r.out;
  }

  const fs::path mail = fs::path(dir.path()) / "mail";
  const std::vector<std::string> delivered = filesIn(mail / "new");
  ASSERT_EQ(delivered.size(), 1u) << r.out;
  EXPECT_TRUE(filesIn(mail / "tmp").empty());
  EXPECT_TRUE(filesIn(mail / "cur").empty());
  const std::string stored = readFile(mail / "new" / delivered[0]);
  EXPECT_EQ(stored, sentMessage(r.out));
  EXPECT_NE(stored.find("\r\n.a line that starts with a dot\r\n..two dots\r\n.\r\nthe end\r\n"),
            std::string::npos)
      << stored;
  EXPECT_EQ(events(daemon.admin(), "messages"), 1);
  EXPECT_EQ(events(daemon.admin(), "message_bytes"), static_cast<double>(stored.size()));
  EXPECT_TRUE(daemon.stop());
}

TEST(SmtpMaildirTest, SwaksMessageIsStoredByteForByte) { expectDeliveredIntoMaildir(false); }

TEST(SmtpMaildirTest, SwaksPipelinedMessageIsStoredByteForByte) {
  expectDeliveredIntoMaildir(true);
}

TEST_F(SmtpHandlerTest, MessageOverTheLimitIsRefusedWith552) {
  start("max_message_size = 1024\nmaildir = \"" + dir_.path() + "\"\n");
  const ClientRun r = swaks(smtp_, {"--body", std::string(2000, 'x'), "--pipeline"});
  EXPECT_NE(r.status, ExitStatus::exited(0));
  EXPECT_NE(r.out.find("<-  250-SIZE 1024"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("<** 552 5.3.4 Message size exceeds fixed maximum message size"),
            std::string::npos)
      << r.out;
  EXPECT_TRUE(filesIn(fs::path(dir_.path()) / "new").empty());
  EXPECT_TRUE(filesIn(fs::path(dir_.path()) / "tmp").empty());
  EXPECT_EQ(events(daemon_.admin(), "message_too_large"), 1);
  EXPECT_EQ(events(daemon_.admin(), "messages"), 0);
}

TEST_F(SmtpHandlerTest, SmtpSourceSends200MessagesOver10Sessions) {
  start("", 2);
  const ClientRun r =
      runClient(kSmtpSource, {"-s", "10", "-m", "200", "-c", "-f", "sender@example.org", "-t",
                              "rcpt@example.net", smtp_.toString()});
  EXPECT_EQ(r.status, ExitStatus::exited(0)) << r.out;
  EXPECT_EQ(events(daemon_.admin(), "messages"), 200);
  EXPECT_EQ(events(daemon_.admin(), "replies_4xx"), 0);
  EXPECT_EQ(events(daemon_.admin(), "replies_5xx"), 0);
}

TEST_F(SmtpHandlerTest, SmtpSourceIntoAMaildir) {
  start("maildir = \"" + dir_.path() + "\"\n", 2);
  const ClientRun r = runClient(kSmtpSource, {"-s", "10", "-m", "100", "-d", smtp_.toString()});
  EXPECT_EQ(r.status, ExitStatus::exited(0)) << r.out;
  EXPECT_EQ(filesIn(fs::path(dir_.path()) / "new").size(), 100u);
  EXPECT_TRUE(filesIn(fs::path(dir_.path()) / "tmp").empty());
}

TEST_F(SmtpHandlerTest, RcptFaultEverySecondMessage) {
  start("fault_rcpt = \"451:every=2\"\n");
  const ClientRun first = swaks(smtp_);
  EXPECT_EQ(first.status, ExitStatus::exited(0)) << first.out;
  const ClientRun second = swaks(smtp_, {"--pipeline"});
  EXPECT_NE(second.status, ExitStatus::exited(0));
  EXPECT_NE(second.out.find("<** 451 4.0.0 Error: injected fault"), std::string::npos)
      << second.out;
  const ClientRun third = swaks(smtp_);
  EXPECT_EQ(third.status, ExitStatus::exited(0)) << third.out;
  EXPECT_EQ(events(daemon_.admin(), "fault_reply"), 1);
  EXPECT_EQ(events(daemon_.admin(), "messages"), 2);
}

TEST_F(SmtpHandlerTest, DisconnectAtTheEndOfTheMessage) {
  start("maildir = \"" + dir_.path() + "\"\nfault_disconnect = \"data_end:100\"\n");
  const ClientRun r = swaks(smtp_);
  EXPECT_NE(r.status, ExitStatus::exited(0));
  EXPECT_EQ(r.out.find("Ok: queued"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Remote host closed connection unexpectedly"), std::string::npos) << r.out;
  EXPECT_TRUE(filesIn(fs::path(dir_.path()) / "new").empty());
  EXPECT_TRUE(filesIn(fs::path(dir_.path()) / "tmp").empty());
  EXPECT_EQ(events(daemon_.admin(), "fault_disconnect"), 1);
}

TEST_F(SmtpHandlerTest, Answers421AndCloses) {
  start("fault_421 = \"mail:every=1\"\nhostname = \"sink.test\"\n");
  const ClientRun r = swaks(smtp_);
  EXPECT_NE(r.status, ExitStatus::exited(0));
  EXPECT_NE(r.out.find("<-  220 sink.test ESMTP portd"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("<** 421 4.3.2 sink.test Service not available"), std::string::npos)
      << r.out;
  EXPECT_EQ(events(daemon_.admin(), "fault_421"), 1);
}

TEST_F(SmtpHandlerTest, DelayedReplyKeepsPipelinedRepliesInOrder) {
  start("fault_mail_delay = \"400ms\"\n");
  const auto begin = Clock::now();
  const ClientRun r = swaks(smtp_, {"--pipeline"});
  EXPECT_GE(Clock::now() - begin, 400ms);
  EXPECT_EQ(r.status, ExitStatus::exited(0)) << r.out;
  EXPECT_NE(r.out.find("<-  250 2.1.0 Ok\n<-  250 2.1.5 Ok\n<-  354 "), std::string::npos) << r.out;
  EXPECT_EQ(events(daemon_.admin(), "fault_delay"), 1);
}

TEST(SmtpConfigTest, BadOptionsNameTheOption) {
  const std::pair<std::string, std::string> cases[] = {
      {"fault_rcpt = \"abc\"", "options.fault_rcpt: invalid reply code"},
      {"fault_disconnect = \"body:1\"", "options.fault_disconnect: unknown stage"},
      {"max_line = 10", "options.max_line: must be between 64 and 64KiB"},
      {"max_recipients = 0", "options.max_recipients: must be between 1"},
      {"hostname = \"a b\"", "options.hostname: must be"},
      {"maildir = \"/proc/portd-no-such-dir\"", "options.maildir: cannot create"},
  };
  for (const auto& [option, message] : cases) {
    TempFile file(config(option + "\n"));
    const CommandResult r = runPortd({"check", "-c", file.path()});
    EXPECT_EQ(r.status, ExitStatus::exited(2)) << option << ": " << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << option << ": " << r.err;
  }
}

}  // namespace
}  // namespace portd::itest
