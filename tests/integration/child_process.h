#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace portd::itest {

using Clock = std::chrono::steady_clock;

// How a child process ended, or that it has not ended yet. Compares and prints well in a
// failed assertion: "exited with status 2", "killed by signal 9", "still running".
class ExitStatus {
 public:
  static ExitStatus running() { return ExitStatus(Kind::kRunning, 0); }
  static ExitStatus exited(int code) { return ExitStatus(Kind::kExited, code); }
  static ExitStatus killed(int signal) { return ExitStatus(Kind::kKilled, signal); }
  // From a waitpid() status.
  static ExitStatus fromWaitStatus(int status);

  bool isRunning() const { return kind_ == Kind::kRunning; }
  bool operator==(const ExitStatus&) const = default;
  std::string toString() const;

 private:
  enum class Kind { kRunning, kExited, kKilled };
  ExitStatus(Kind kind, int value) : kind_(kind), value_(value) {}

  Kind kind_;
  int value_;
};

inline std::ostream& operator<<(std::ostream& os, const ExitStatus& s) {
  return os << s.toString();
}

// A child process whose stdout and stderr are captured. A thread of ours drains both pipes as
// soon as anything arrives, so the child never blocks on a full pipe while a test is busy
// elsewhere, and a test can wait for a line to appear instead of sleeping.
//
// Not thread-safe, except that the captured text may be read while the child runs.
class ChildProcess {
 public:
  struct Spec {
    std::string path;
    std::vector<std::string> args;  // without argv[0]
    // RLIMIT_NOFILE, soft and hard, set in the child before exec.
    std::optional<rlim_t> file_limit;
    // Added to (or replacing in) the test's environment: "NAME=value".
    std::vector<std::string> env;
    // Socket activation as systemd does it: these descriptors become 3, 4, ... in the child,
    // with LISTEN_FDS, LISTEN_PID (the child's own pid) and LISTEN_FDNAMES (colon-separated).
    std::vector<int> listen_fds;
    std::string listen_fdnames;
  };

  // Starts the child. Throws std::system_error if that fails (exec failures show up as exit
  // status 127 with a message on the captured stderr instead).
  explicit ChildProcess(const Spec& spec);
  // Kills the child with SIGKILL if it is still running, and reaps it.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Sends `signum` unless the child has already been reaped.
  void signal(int signum);

  // Waits up to `timeout` for the child to end; ExitStatus::running() if it did not. Once the
  // child has ended, all of its output has been captured.
  ExitStatus wait(Clock::duration timeout);

  // Waits until `done(stderr so far)` holds, the child closes its stderr (usually: it exited),
  // or `timeout` passes. Returns whether `done` held.
  bool waitForStderr(const std::function<bool(std::string_view)>& done, Clock::duration timeout);

  std::string stdoutText() const;
  std::string stderrText() const;

 private:
  void readOutput(int out_fd, int err_fd);

  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::optional<ExitStatus> status_;
  std::thread reader_;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::string stdout_;
  std::string stderr_;
  bool stderr_closed_ = false;
};

}  // namespace portd::itest
