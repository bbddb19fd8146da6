#include "daemon_process.h"

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <system_error>
#include <thread>

namespace portd::itest {

namespace {

// Starting takes milliseconds; the margin is for sanitizer builds on a busy machine.
constexpr Clock::duration kStartTimeout = 10s;

}  // namespace

TempFile::TempFile(std::string_view contents, std::string_view suffix) {
  const char* dir = std::getenv("TMPDIR");
  std::string name = std::string(dir && *dir ? dir : "/tmp") + "/portd-itest-XXXXXX";
  name += suffix;
  int fd = ::mkstemps(name.data(), static_cast<int>(suffix.size()));
  if (fd < 0) {
    throw std::system_error(errno, std::generic_category(), "mkstemps " + name);
  }
  path_ = name;
  while (!contents.empty()) {
    ssize_t n = ::write(fd, contents.data(), contents.size());
    if (n < 0 && errno != EINTR) {
      int saved = errno;
      ::close(fd);
      throw std::system_error(saved, std::generic_category(), "write " + path_);
    }
    contents.remove_prefix(n > 0 ? static_cast<size_t>(n) : 0);
  }
  ::close(fd);
}

TempFile::~TempFile() { ::unlink(path_.c_str()); }

CommandResult runPortd(const std::vector<std::string>& args, Clock::duration timeout,
                       const std::vector<std::string>& env) {
  ChildProcess child({PORTD_BINARY, args, std::nullopt, env, {}, ""});
  CommandResult result;
  result.status = child.wait(timeout);
  result.out = child.stdoutText();
  result.err = child.stderrText();
  return result;
}

::testing::AssertionResult Daemon::start(std::string_view config, const Options& options) {
  config_file_ = std::make_unique<TempFile>(config);
  ChildProcess::Spec spec{PORTD_BINARY,       {"serve", "-c", config_file_->path()},
                          options.file_limit, options.env,
                          options.listen_fds, options.listen_fdnames};
  spec.args.insert(spec.args.end(), options.extra_args.begin(), options.extra_args.end());
  child_ = std::make_unique<ChildProcess>(spec);
  bool ready = child_->waitForStderr(
      [](std::string_view log) { return log.find("portd ready:") != std::string_view::npos; },
      kStartTimeout);
  if (!ready) {
    ExitStatus status = child_->wait(0s);
    return ::testing::AssertionFailure()
           << "portd did not report ready (" << status << "); its log:\n"
           << log();
  }
  parseListeners(log());
  return ::testing::AssertionSuccess();
}

void Daemon::parseListeners(const std::string& log) {
  // info [PID] listener "NAME": tcp echo on 127.0.0.1:40123 (2 workers)
  static const std::regex kLine(R"re(listener "([^"]+)": (?:tcp|udp) \S+ on (\S+) \()re");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), kLine); it != std::sregex_iterator();
       ++it) {
    if (auto endpoint = Endpoint::parse((*it)[2].str())) {
      listeners_[(*it)[1].str()] = *endpoint;
    }
  }
}

void Daemon::rewriteConfig(std::string_view config) {
  std::ofstream out(config_file_->path(), std::ios::trunc);
  out << config;
}

::testing::AssertionResult Daemon::reload(size_t n) {
  signal(SIGHUP);
  bool done = child_->waitForStderr(
      [&](std::string_view log) {
        return countOccurrences(log, "configuration reloaded from") +
                   countOccurrences(log, "reload refused") >=
               n;
      },
      kIoTimeout);
  if (!done) {
    return ::testing::AssertionFailure() << "reload " << n << " did not finish; the log:\n"
                                         << log();
  }
  parseListeners(log());
  return ::testing::AssertionSuccess();
}

Endpoint Daemon::listener(const std::string& name) const {
  auto it = listeners_.find(name);
  if (it == listeners_.end()) {
    ADD_FAILURE() << "the log names no listener \"" << name << "\":\n" << log();
    return Endpoint();
  }
  return it->second;
}

::testing::AssertionResult Daemon::stop(Clock::duration timeout) {
  signal(SIGTERM);
  ExitStatus status = waitExit(timeout);
  if (status == ExitStatus::exited(0)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "after SIGTERM portd " << status << "; its log:\n"
                                       << log();
}

::testing::AssertionResult Daemon::waitForLog(std::string_view text, size_t times,
                                              Clock::duration timeout) {
  bool found = child_->waitForStderr(
      [&](std::string_view log) { return countOccurrences(log, text) >= times; }, timeout);
  if (found) {
    return ::testing::AssertionSuccess();
  }
  std::string now = log();
  return ::testing::AssertionFailure()
         << "wanted \"" << text << "\" " << times << " times in the log, found it "
         << countOccurrences(now, text) << " times; the log:\n"
         << now;
}

size_t Daemon::countLogLines(std::string_view text) const {
  std::istringstream in(log());
  size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    n += line.find(text) != std::string::npos ? 1 : 0;
  }
  return n;
}

std::vector<std::chrono::system_clock::time_point> Daemon::logLineTimes(
    std::string_view text) const {
  // Lines start "2024-05-01 12:34:56.789 " (core/log.cc), in local time.
  static const std::regex stamp(R"(^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3}) )");
  std::vector<std::chrono::system_clock::time_point> times;
  std::istringstream in(log());
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (line.find(text) == std::string::npos || !std::regex_search(line, m, stamp)) {
      continue;
    }
    std::tm tm{};
    tm.tm_year = std::stoi(m[1]) - 1900;
    tm.tm_mon = std::stoi(m[2]) - 1;
    tm.tm_mday = std::stoi(m[3]);
    tm.tm_hour = std::stoi(m[4]);
    tm.tm_min = std::stoi(m[5]);
    tm.tm_sec = std::stoi(m[6]);
    tm.tm_isdst = -1;
    times.push_back(std::chrono::system_clock::from_time_t(std::mktime(&tm)) +
                    std::chrono::milliseconds(std::stoi(m[7])));
  }
  return times;
}

std::chrono::milliseconds Daemon::cpuTime() const {
  std::ifstream in("/proc/" + std::to_string(pid()) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) may contain spaces, so the fields are counted from the ')' that
  // ends it; utime and stime are fields 14 and 15.
  size_t end = stat.rfind(')');
  if (end == std::string::npos) {
    return std::chrono::milliseconds(0);
  }
  std::istringstream fields(stat.substr(end + 2));
  std::string skip;
  for (int field = 3; field < 14; ++field) {
    fields >> skip;
  }
  long long utime = 0;
  long long stime = 0;
  fields >> utime >> stime;
  return std::chrono::milliseconds((utime + stime) * 1000 / ::sysconf(_SC_CLK_TCK));
}

size_t countOccurrences(std::string_view haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string_view::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

Endpoint Daemon::admin() const {
  static const std::regex kLine(R"(admin endpoint on http://(\S+) \()");
  std::smatch m;
  const std::string text = log();
  EXPECT_TRUE(std::regex_search(text, m, kLine)) << text;
  return Endpoint::parse(m.size() > 1 ? m[1].str() : "").value_or(Endpoint());
}

uint64_t Daemon::rssBytes() const {
  std::ifstream in("/proc/" + std::to_string(pid()) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stoull(line.substr(6)) * 1024;
    }
  }
  return 0;
}

uint64_t Daemon::settledRssBytes() const {
  uint64_t last = rssBytes();
  int still = 0;
  for (int i = 0; i < 150 && still < 12; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const uint64_t now = rssBytes();
    still = now == last ? still + 1 : 0;
    last = now;
  }
  return last;
}

}  // namespace portd::itest
