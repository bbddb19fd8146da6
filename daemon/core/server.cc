#include "core/server.h"

#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#include <csignal>
#include <vector>

#include "core/cpu_limit.h"
#include "core/mailbox.h"
#include "core/server_state.h"
#include "core/uv_handle.h"
#include "core/worker.h"
#include "net/socket.h"

namespace portd::core {

unsigned defaultWorkerCount() { return cpuBudget().workers; }

namespace {

void closeAll(std::vector<std::vector<int>>& fds) {
  for (auto& per_worker : fds) {
    for (int fd : per_worker) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
  }
}

// Opens one socket per listener per worker. For port 0, the first worker's socket gets a port
// from the kernel and the other workers bind to that same port, so that they share it.
// fds[worker][listener]. Returns false (having closed everything) if any bind fails.
bool bindAll(const config::Config& config, unsigned workers,
             std::vector<std::vector<int>>* fds) {
  fds->assign(workers, std::vector<int>(config.listeners.size(), -1));
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    const config::ListenerConfig& l = config.listeners[i];
    net::Address addr = l.address;
    for (unsigned w = 0; w < workers; ++w) {
      std::string error;
      int fd = net::openBoundSocket(l.protocol, addr, &error);
      if (fd < 0) {
        spdlog::critical("listener \"{}\": {}", l.name, error);
        closeAll(*fds);
        return false;
      }
      (*fds)[w][i] = fd;
      if (w == 0) {
        addr = net::localAddress(fd);
      }
    }
    spdlog::info("listener \"{}\": {} {} on {} ({} workers)", l.name, config::transportName(l.protocol),
                 l.handler, addr.toString(), workers);
  }
  return true;
}

class Supervisor {
 public:
  Supervisor(std::shared_ptr<const config::Config> config, unsigned workers)
      : config_(config), worker_count_(workers), state_(std::move(config), workers) {}

  int run() {
    if (uv_loop_init(&loop_) != 0) {
      return 1;
    }
    int status = serve();
    // Close what serve() left open and let the close callbacks run.
    sigterm_.reset();
    sigint_.reset();
    timer_.reset();
    mailbox_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    return status;
  }

 private:
  int serve() {
    std::vector<std::vector<int>> fds;
    if (!bindAll(*config_, worker_count_, &fds)) {
      return 1;
    }
    mailbox_ = std::make_unique<Mailbox>(&loop_);
    uv_signal_init(&loop_, sigterm_.get());
    uv_signal_init(&loop_, sigint_.get());
    sigterm_->data = sigint_->data = this;
    uv_signal_start(sigterm_.get(), &onSignal, SIGTERM);
    uv_signal_start(sigint_.get(), &onSignal, SIGINT);
    uv_timer_init(&loop_, timer_.get());
    timer_->data = this;

    for (unsigned w = 0; w < worker_count_; ++w) {
      workers_.push_back(std::make_unique<Worker>(
          static_cast<int>(w), worker_count_, config_, std::move(fds[w]), state_.worker(w),
          [this](int) { mailbox_->post([this] { onWorkerExit(); }); }));
    }
    for (size_t w = 0; w < workers_.size(); ++w) {
      if (int rc = workers_[w]->start(); rc != 0) {
        spdlog::critical("worker {} could not start: {}", w, uv_strerror(rc));
        // Workers after this one never ran; dropping them closes their sockets.
        workers_.resize(w + 1);
        failed_ = true;
        beginShutdown();
        break;
      }
    }
    if (!failed_) {
      state_.setPhase(ServerState::Phase::kReady);
      spdlog::info("portd ready: {} workers, {} listeners", worker_count_,
                   config_->listeners.size());
    }
    uv_run(&loop_, UV_RUN_DEFAULT);
    for (auto& w : workers_) {
      w->join();
    }
    return failed_ ? 1 : 0;
  }

  static void onSignal(uv_signal_t* handle, int signum) {
    auto* self = static_cast<Supervisor*>(handle->data);
    if (self->shutting_down_) {
      // The operator asked twice: stop waiting for connections.
      spdlog::warn("{} again: exiting now", strsignal(signum));
      spdlog::default_logger()->flush();
      // exit_group directly: not even a sanitizer's exit hooks may run here, since the workers
      // are still busy and "now" is what was asked for (TSan would report them as leaked and
      // change the status).
      syscall(SYS_exit_group, 1);
      __builtin_unreachable();
    }
    spdlog::info("{}: draining; open connections have {} ms to finish", strsignal(signum),
                 self->config_->server.shutdown_timeout.count());
    self->beginShutdown();
  }

  void beginShutdown() {
    state_.setPhase(ServerState::Phase::kDraining);
    shutting_down_ = true;
    for (auto& w : workers_) {
      w->drain();
    }
    uv_timer_start(
        timer_.get(),
        [](uv_timer_t* t) {
          auto* self = static_cast<Supervisor*>(t->data);
          spdlog::warn("shutdown_timeout reached: closing the remaining connections");
          for (auto& w : self->workers_) {
            w->closeConnections();
          }
        },
        static_cast<uint64_t>(config_->server.shutdown_timeout.count()), 0);
  }

  void onWorkerExit() {
    if (++exited_ < workers_.size()) {
      return;
    }
    if (!shutting_down_) {
      failed_ = true;  // workers only stop on their own when they failed to start
    }
    spdlog::info("all workers stopped");
    // Nothing else keeps the main loop running: uv_run() returns.
    sigterm_.reset();
    sigint_.reset();
    timer_.reset();
    mailbox_->close();
  }

  std::shared_ptr<const config::Config> config_;
  unsigned worker_count_;
  ServerState state_;  // before workers_: they write into it until they are joined
  uv_loop_t loop_{};
  std::unique_ptr<Mailbox> mailbox_;
  UvHandle<uv_signal_t> sigterm_;
  UvHandle<uv_signal_t> sigint_;
  UvHandle<uv_timer_t> timer_;
  std::vector<std::unique_ptr<Worker>> workers_;
  size_t exited_ = 0;
  bool shutting_down_ = false;
  bool failed_ = false;
};

}  // namespace

int runServer(std::shared_ptr<const config::Config> config) {
  // A peer that resets a connection must cost us an EPIPE from write(), not the process.
  std::signal(SIGPIPE, SIG_IGN);
  unsigned workers = config->server.workers;
  if (workers == 0) {
    CpuBudget budget = cpuBudget();
    workers = budget.workers;
    spdlog::info("workers: {} ({})", workers, budget.describe());
  }
  return Supervisor(std::move(config), workers).run();
}

}  // namespace portd::core
