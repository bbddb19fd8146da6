#include "child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <system_error>

namespace portd::itest {

ExitStatus ExitStatus::fromWaitStatus(int status) {
  if (WIFEXITED(status)) {
    return exited(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return killed(WTERMSIG(status));
  }
  return running();
}

std::string ExitStatus::toString() const {
  switch (kind_) {
    case Kind::kRunning:
      return "still running";
    case Kind::kExited:
      return "exited with status " + std::to_string(value_);
    case Kind::kKilled:
      return "killed by signal " + std::to_string(value_) + " (" + strsignal(value_) + ")";
  }
  return "?";
}

namespace {

[[noreturn]] void throwErrno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// poll() takes milliseconds; rounding up keeps it from returning just before the deadline.
int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// The part of the child that runs between fork() and exec(). The test process has threads, so
// only async-signal-safe calls are allowed here: no allocation, no locks, no stdio.
// Writes the decimal digits of `v` into `out` (which has room for 20) and terminates it.
void formatPid(char* out, long v) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0);
  for (int i = 0; i < n; ++i) {
    out[i] = digits[n - 1 - i];
  }
  out[n] = '\0';
}

[[noreturn]] void execChild(pid_t parent, const char* path, char* const* argv, char* const* envp,
                            int in_fd, int out_fd, int err_fd, const rlimit* file_limit,
                            const std::vector<int>* listen_fds, char* listen_pid_digits) {
  // A test that crashes or is killed by its timeout must not leave a daemon behind holding
  // ports. Checking getppid() afterwards closes the race with a parent that died before prctl.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) {
    ::_exit(127);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::dup2(in_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) {
    ::_exit(127);
  }
  // Passed sockets go to 3, 4, ...: first out of the way (above any target), then in place.
  size_t passed = listen_fds->size();
  int high = 1000;
  for (size_t i = 0; i < passed; ++i) {
    if (::dup2((*listen_fds)[i], high + static_cast<int>(i)) < 0) ::_exit(127);
  }
  for (size_t i = 0; i < passed; ++i) {
    if (::dup2(high + static_cast<int>(i), 3 + static_cast<int>(i)) < 0) ::_exit(127);
  }
  if (listen_pid_digits != nullptr) {
    formatPid(listen_pid_digits, static_cast<long>(::getpid()));
  }
  // Descriptors the test runner left open would count against a file limit and keep pipes of
  // other children open.
  ::close_range(3 + static_cast<unsigned>(passed), ~0U, 0);
  if (file_limit != nullptr && ::setrlimit(RLIMIT_NOFILE, file_limit) != 0) {
    static constexpr char kMsg[] = "child_process: setrlimit(RLIMIT_NOFILE) failed\n";
    (void)!::write(2, kMsg, sizeof kMsg - 1);
    ::_exit(127);
  }
  ::execve(path, argv, envp);
  static constexpr char kMsg[] = "child_process: execve failed\n";
  (void)!::write(2, kMsg, sizeof kMsg - 1);
  ::_exit(127);
}

}  // namespace

ChildProcess::ChildProcess(const Spec& spec) {
  std::vector<std::string> args = {spec.path};
  args.insert(args.end(), spec.args.begin(), spec.args.end());
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  // The environment is built before fork(): the child may not allocate.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    bool replaced = false;
    for (const std::string& extra : spec.env) {
      std::string_view name = std::string_view(extra).substr(0, extra.find('=') + 1);
      replaced = replaced || entry.starts_with(name);
    }
    if (!replaced) {
      env_strings.emplace_back(entry);
    }
  }
  env_strings.insert(env_strings.end(), spec.env.begin(), spec.env.end());
  char* listen_pid_digits = nullptr;
  if (!spec.listen_fds.empty()) {
    env_strings.push_back("LISTEN_FDS=" + std::to_string(spec.listen_fds.size()));
    env_strings.push_back("LISTEN_FDNAMES=" + spec.listen_fdnames);
    env_strings.push_back("LISTEN_PID=" + std::string(24, '\0'));  // the child fills it in
  }
  std::vector<char*> envp;
  for (std::string& e : env_strings) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  if (!spec.listen_fds.empty()) {
    listen_pid_digits = env_strings.back().data() + std::strlen("LISTEN_PID=");
  }
  std::optional<rlimit> limit;
  if (spec.file_limit) {
    limit = rlimit{*spec.file_limit, *spec.file_limit};
  }

  // O_CLOEXEC: children started concurrently by other tests must not inherit our pipe ends,
  // or our reader would never see EOF.
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    throwErrno("pipe2");
  }
  if (::pipe2(err, O_CLOEXEC) != 0) {
    int saved = errno;
    ::close(out[0]);
    ::close(out[1]);
    errno = saved;
    throwErrno("pipe2");
  }
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = ::getpid();
  pid_t pid = null_fd < 0 ? -1 : ::fork();
  if (pid == 0) {
    execChild(parent, spec.path.c_str(), argv.data(), envp.data(), null_fd, out[1], err[1],
              limit ? &*limit : nullptr, &spec.listen_fds, listen_pid_digits);
  }
  int saved = errno;
  for (int fd : {out[1], err[1], null_fd}) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
  if (pid < 0) {
    ::close(out[0]);
    ::close(err[0]);
    errno = saved;
    throwErrno("fork");
  }
  pid_ = pid;
  // A pidfd lets wait() sleep in poll() with a deadline instead of polling waitpid(). The raw
  // system call, because glibc 2.36's <sys/pidfd.h> lacks extern "C" and cannot be linked
  // from C++.
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd_ < 0) {
    saved = errno;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ::close(out[0]);
    ::close(err[0]);
    errno = saved;
    throwErrno("pidfd_open");
  }
  reader_ = std::thread([this, o = out[0], e = err[0]] { readOutput(o, e); });
}

ChildProcess::~ChildProcess() {
  if (!status_) {
    signal(SIGKILL);
    wait(std::chrono::hours(1));
  }
  if (reader_.joinable()) {
    reader_.join();
  }
}

void ChildProcess::signal(int signum) {
  // Until it is reaped, the pid cannot be reused by another process.
  if (!status_) {
    ::kill(pid_, signum);
  }
}

ExitStatus ChildProcess::wait(Clock::duration timeout) {
  if (status_) {
    return *status_;
  }
  const Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    pollfd p{pidfd_, POLLIN, 0};
    int n = ::poll(&p, 1, remainingMs(deadline));
    if (n > 0) {
      break;
    }
    if (n == 0 && Clock::now() >= deadline) {
      return ExitStatus::running();
    }
  }
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  status_ = ExitStatus::fromWaitStatus(status);
  ::close(pidfd_);
  pidfd_ = -1;
  // The child is gone, so both pipes reach EOF and the reader finishes promptly.
  if (reader_.joinable()) {
    reader_.join();
  }
  return *status_;
}

bool ChildProcess::waitForStderr(const std::function<bool(std::string_view)>& done,
                                 Clock::duration timeout) {
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, timeout, [&] { return done(stderr_) || stderr_closed_; });
  return done(stderr_);
}

std::string ChildProcess::stdoutText() const {
  std::lock_guard lock(mu_);
  return stdout_;
}

std::string ChildProcess::stderrText() const {
  std::lock_guard lock(mu_);
  return stderr_;
}

void ChildProcess::readOutput(int out_fd, int err_fd) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* sinks[2] = {&stdout_, &stderr_};
  char buf[64 * 1024];
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    // poll() skips negative descriptors, so a pipe that reached EOF drops out by itself.
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) {
        continue;
      }
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      std::lock_guard lock(mu_);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
      }
      stderr_closed_ = fds[1].fd < 0;
      changed_.notify_all();
    }
  }
  std::lock_guard lock(mu_);
  for (pollfd& p : fds) {
    if (p.fd >= 0) {
      ::close(p.fd);
    }
  }
  stderr_closed_ = true;
  changed_.notify_all();
}

}  // namespace portd::itest
