#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "child_process.h"
#include "net_client.h"

namespace portd::itest {

// Sanitizer builds (AddressSanitizer, ThreadSanitizer) keep freed memory in quarantine, map
// shadow memory and run unoptimised: resident memory says nothing about portd's own bounds
// there, and everything takes several times longer.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitizerBuild = true;
#else
inline constexpr bool kSanitizerBuild = false;
#endif

// A file in the temporary directory, removed by the destructor.
class TempFile {
 public:
  explicit TempFile(std::string_view contents, std::string_view suffix = ".toml");
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The result of a portd command that runs to completion, such as `portd check`.
struct CommandResult {
  ExitStatus status = ExitStatus::running();
  std::string out;
  std::string err;
};

// Runs `portd ARGS...` with `env` ("NAME=value") added, and waits up to `timeout` for it to end.
CommandResult runPortd(const std::vector<std::string>& args, Clock::duration timeout = 10s,
                       const std::vector<std::string>& env = {});

// The real portd binary running `serve` with a configuration of the test's own. Listeners
// should use port 0; the bound addresses are read back from the daemon's log.
//
//   Daemon d;
//   ASSERT_TRUE(d.start(config));
//   Fd c = connectTcp(d.listener("echo"));
class Daemon {
 public:
  struct Options {
    std::vector<std::string> extra_args;  // e.g. {"--log-level", "debug"}
    // RLIMIT_NOFILE, soft and hard: portd raises its soft limit to the hard one.
    std::optional<rlim_t> file_limit;
    std::vector<std::string> env;  // "NAME=value", added to the test's environment
    std::vector<int> listen_fds;   // passed as systemd's socket activation does
    std::string listen_fdnames;
  };

  Daemon() = default;
  // Kills the daemon if it is still running.
  ~Daemon() = default;

  // Writes `config` to a file, starts `portd serve -c FILE`, and waits for the "portd ready"
  // line. On failure the message says why and includes the log.
  ::testing::AssertionResult start(std::string_view config, const Options& options = {});

  // Where the listener called `name` is bound; an invalid endpoint (and a test failure) if
  // the log did not mention it.
  Endpoint listener(const std::string& name) const;

  // Replaces the configuration file's text (for a reload: then signal(SIGHUP)).
  void rewriteConfig(std::string_view config);
  // Sends SIGHUP and waits for the daemon to log that reload number `n` (counting from 1) was
  // applied or refused; reads the listeners' addresses again.
  ::testing::AssertionResult reload(size_t n);

  void signal(int signum) {
    if (child_) {
      child_->signal(signum);
    }
  }
  // How the daemon ended, or ExitStatus::running() if it did not within `timeout`.
  ExitStatus waitExit(Clock::duration timeout) {
    return child_ ? child_->wait(timeout) : ExitStatus::running();
  }
  // Sends SIGTERM and expects the daemon to exit with status 0 within `timeout`.
  ::testing::AssertionResult stop(Clock::duration timeout = 10s);
  // Waits until the log contains `text` `times` times or more.
  ::testing::AssertionResult waitForLog(std::string_view text, size_t times = 1,
                                        Clock::duration timeout = kIoTimeout);

  std::string log() const { return child_ ? child_->stderrText() : std::string(); }
  // Lines of the log that contain `text`.
  size_t countLogLines(std::string_view text) const;
  // When the daemon wrote each line of the log that contains `text`, from the line's own
  // timestamp (wall clock, milliseconds): what a test measures between two lines this way does
  // not depend on how late the test thread saw them.
  std::vector<std::chrono::system_clock::time_point> logLineTimes(std::string_view text) const;
  pid_t pid() const { return child_->pid(); }
  // The admin endpoint's address, from its "admin endpoint on http://..." log line; an invalid
  // endpoint (and a test failure) if the log has none.
  Endpoint admin() const;
  // Resident memory (VmRSS) now; and once it has stopped changing for 1.2 s (at most 15 s):
  // longer than a worker waits between two rounds of giving memory back (1 s), so that a
  // round still due after a burst is not missed.
  uint64_t rssBytes() const;
  uint64_t settledRssBytes() const;
  // CPU time the daemon used so far, user and system, from /proc; zero if unreadable.
  std::chrono::milliseconds cpuTime() const;

 private:
  void parseListeners(const std::string& log);

  std::unique_ptr<TempFile> config_file_;
  std::unique_ptr<ChildProcess> child_;
  std::map<std::string, Endpoint> listeners_;
};

// Occurrences of `needle` in `haystack`.
size_t countOccurrences(std::string_view haystack, std::string_view needle);

}  // namespace portd::itest
