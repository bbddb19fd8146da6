#include "core/server.h"

#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <map>
#include <vector>

#include "admin/admin_routes.h"
#include "config/loader.h"
#include "core/cpu_limit.h"
#include "core/log.h"
#include "core/mailbox.h"
#include "core/server_state.h"
#include "core/socket_set.h"
#include "core/systemd.h"
#include "core/uv_handle.h"
#include "core/worker.h"
#include "net/socket.h"
#include "net/tcp_listener.h"

namespace portd::core {

unsigned defaultWorkerCount() { return cpuBudget().workers; }

namespace {

unsigned workersFor(const config::Config& config) {
  if (config.server.workers != 0) {
    return config.server.workers;
  }
  CpuBudget budget = cpuBudget();
  spdlog::info("workers: {} ({})", budget.workers, budget.describe());
  return budget.workers;
}

// The main thread: binds the sockets, runs the workers, and handles the signals: SIGTERM and
// SIGINT drain, SIGHUP reloads. Everything here runs on the main loop.
class Supervisor {
 public:
  Supervisor(std::shared_ptr<const config::Config> config, Reloader reloader)
      : reloader_(std::move(reloader)), state_(config, 0) {}

  int run() {
    if (uv_loop_init(&loop_) != 0) {
      return 1;
    }
    int status = serve();
    // Close what serve() left open and let the close callbacks run.
    closeHandles();
    mailbox_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    return status;
  }

 private:
  int serve() {
    const config::Config& config = state_.config();
    unsigned workers = workersFor(config);
    auto passed = systemd::takePassedSockets();
    std::string error;
    SocketSet nothing_yet;
    if (!sockets_.prepare(config, workers, nothing_yet, passed, &error)) {
      spdlog::critical("{}", error);
      return 1;
    }
    rejectUnclaimed(passed);
    logListeners(config, workers);
    if (!openAdmin(config)) {
      return 1;
    }

    mailbox_ = std::make_unique<Mailbox>(&loop_);
    for (auto* s : {sigterm_.get(), sigint_.get(), sighup_.get()}) {
      uv_signal_init(&loop_, s);
      s->data = this;
    }
    uv_signal_start(sigterm_.get(), &onStop, SIGTERM);
    uv_signal_start(sigint_.get(), &onStop, SIGINT);
    uv_signal_start(sighup_.get(), &onReload, SIGHUP);
    uv_timer_init(&loop_, timer_.get());
    timer_->data = this;

    if (!startWorkers(workers)) {
      failed_ = true;
      beginShutdown();
    } else {
      state_.setPhase(ServerState::Phase::kReady);
      spdlog::info("portd ready: {} workers, {} listeners", workers, config.listeners.size());
      systemd::ready(summary());
      startServiceTimers();
    }
    uv_run(&loop_, UV_RUN_DEFAULT);
    for (auto& w : workers_) {
      w->join();
    }
    for (auto& w : retiring_) {
      w->join();
    }
    return failed_ ? 1 : 0;
  }

  // The admin endpoint: an http listener on the main loop (see admin/admin_routes.h). Kept
  // through a drain, so that /readyz can say "draining", and closed last.
  bool openAdmin(const config::Config& config) {
    if (!config.admin_address) {
      closeAdmin();
      return true;
    }
    if (admin_ && admin_config_->listeners[0].address == *config.admin_address) {
      return true;  // unchanged by a reload
    }
    std::string error;
    int fd = net::openBoundSocket(net::Transport::kTcp, *config.admin_address, &error);
    if (fd < 0) {
      spdlog::critical("admin endpoint: {}", error);
      return false;
    }
    closeAdmin();
    if (!admin_ctx_) {
      admin_ctx_ = std::make_unique<LoopContext>(&loop_, -1);
    }
    auto cfg = std::make_shared<config::Config>();
    config::ListenerConfig l;
    l.name = "admin";
    l.address = *config.admin_address;
    l.handler = "http";
    l.max_connections = 64;
    l.idle_timeout = std::chrono::seconds(60);
    l.options =
        std::make_shared<const handlers::Options>(std::map<std::string, handlers::OptionValue>{});
    l.handler_config = admin::adminHandlerConfig(state_);
    cfg->listeners.push_back(std::move(l));
    admin_config_ = cfg;
    admin_ = std::make_unique<net::TcpListener>(*admin_ctx_, admin_config_,
                                                admin_config_->listeners[0], 1);
    if (int rc = admin_->listen(fd); rc != 0) {
      spdlog::critical("admin endpoint: {}", uv_strerror(rc));
      admin_.reset();
      return false;
    }
    spdlog::info("admin endpoint on http://{} (/healthz /readyz /metrics /stats /config)",
                 net::localAddress(fd).toString());
    return true;
  }

  void closeAdmin() {
    if (admin_) {
      admin_->stopAccepting();
      admin_->abortAll();
      admin_.reset();
    }
  }

  // Starts workers until there are `count`; false if one cannot start.
  bool startWorkers(unsigned count) {
    while (workers_.size() < count) {
      unsigned index = static_cast<unsigned>(workers_.size());
      unsigned state_index = state_.workerCount();
      WorkerState& ws = state_.addWorker();
      auto worker = std::make_unique<Worker>(
          static_cast<int>(state_index), assignmentFor(index, count, state_index), ws,
          [this](Worker* w) { mailbox_->post([this, w] { onWorkerExit(w); }); });
      Worker* raw = worker.get();
      workers_.push_back(std::move(worker));
      worker_state_.push_back(state_index);
      if (int rc = raw->start(); rc != 0) {
        spdlog::critical("worker {} could not start: {}", raw->id(), uv_strerror(rc));
        return false;
      }
    }
    return true;
  }

  // What worker `index` of `count` serves under the configuration in force.
  Assignment assignmentFor(unsigned index, unsigned count, unsigned state_index) {
    const config::Config& config = state_.config();
    Assignment a;
    a.config = state_.configPtr();
    for (const config::ListenerConfig& l : config.listeners) {
      a.fds.push_back(sockets_.assign(l.name, index, count));
      const SocketSet::Group* g = sockets_.find(l.name);
      a.sockets_total.push_back(g->passed ? count : static_cast<unsigned>(g->fds.size()));
      a.stats.push_back(state_.stats(state_index, l.name));
    }
    return a;
  }

  static void onStop(uv_signal_t* handle, int signum) {
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
                 self->state_.config().server.shutdown_timeout.count());
    self->beginShutdown();
  }

  static void onReload(uv_signal_t* handle, int /*signum*/) {
    static_cast<Supervisor*>(handle->data)->reload();
  }

  // SIGHUP: read and check the whole new configuration (plugins included) before touching
  // anything; an invalid one changes nothing.
  void reload() {
    if (shutting_down_) {
      return;
    }
    systemd::reloading();
    std::shared_ptr<const config::Config> next;
    try {
      if (!reloader_) {
        throw std::runtime_error("this daemon was started without a way to reload");
      }
      next = reloader_();
    } catch (const std::exception& e) {
      refuseReload(e.what());
      return;
    }
    unsigned workers = workersFor(*next);
    SocketSet prepared;
    std::map<std::string, std::vector<int>> none;
    std::string error;
    if (!prepared.prepare(*next, workers, sockets_, none, &error)) {
      refuseReload(error);
      return;
    }
    // From here on the new configuration is in force. Sockets of removed listeners are left
    // in sockets_: closed once every worker has let go of its copy (they are dups).
    SocketSet removed = std::move(sockets_);
    sockets_ = std::move(prepared);
    state_.setConfig(next);
    applyLogging(next->log);
    if (!openAdmin(*next)) {
      spdlog::error("the admin endpoint could not move to its new address; it is off");
    }
    unsigned keep = std::min<unsigned>(workers, static_cast<unsigned>(workers_.size()));
    for (unsigned i = 0; i < keep; ++i) {
      workers_[i]->reconfigure(assignmentFor(i, workers, worker_state_[i]));
    }
    // Fewer workers: the surplus drain; their sockets are served by the others from now on.
    while (workers_.size() > workers) {
      workers_.back()->drain();
      retiring_.push_back(std::move(workers_.back()));
      workers_.pop_back();
      worker_state_.pop_back();
    }
    bool started = startWorkers(workers);
    removed.closeAll();
    ++state_.reloads;
    logListeners(*next, workers);
    spdlog::info("configuration reloaded from {}: {} workers, {} listeners{}", next->source,
                 workers_.size(), next->listeners.size(),
                 started ? "" : " (a new worker could not start)");
    systemd::ready(summary());
  }

  void refuseReload(const std::string& why) {
    ++state_.reload_failures;
    spdlog::error("reload refused, the previous configuration keeps serving: {}", why);
    systemd::ready(summary());
  }

  void rejectUnclaimed(std::map<std::string, std::vector<int>>& passed) {
    // A passed socket that no listener names would never be served: say so rather than hold it.
    for (auto& [name, list] : passed) {
      for (int fd : list) {
        spdlog::error(
            "systemd passed a socket named \"{}\" (descriptor {}) but no listener has "
            "that name; closing it",
            name, fd);
        ::close(fd);
      }
    }
    passed.clear();
  }

  void logListeners(const config::Config& config, unsigned workers) {
    for (const config::ListenerConfig& l : config.listeners) {
      const SocketSet::Group* g = sockets_.find(l.name);
      spdlog::info("listener \"{}\": {} {} on {} ({} workers{})", l.name,
                   config::transportName(l.protocol), l.handler, g->bound.toString(), workers,
                   g->passed ? ", socket from systemd" : "");
    }
  }

  // The watchdog (WatchdogSec=): WATCHDOG=1 only while every worker loop turns, so that a
  // stuck worker stops the pings and systemd restarts the service. And STATUS= every 2 s.
  void startServiceTimers() {
    uint64_t usec = systemd::watchdogUsec();
    if (usec > 0) {
      watchdog_max_age_ms_ = std::max<uint64_t>(usec / 2000, 500);
      uv_timer_init(&loop_, watchdog_.get());
      watchdog_->data = this;
      uv_timer_start(
          watchdog_.get(),
          [](uv_timer_t* t) {
            auto* self = static_cast<Supervisor*>(t->data);
            if (self->state_.healthy(self->watchdog_max_age_ms_)) {
              systemd::watchdogPing();
            } else {
              spdlog::error("a worker loop has not turned for {} ms: not pinging the watchdog",
                            self->watchdog_max_age_ms_);
            }
          },
          0, std::max<uint64_t>(usec / 4000, 100));
    }
    if (std::getenv("NOTIFY_SOCKET") != nullptr) {
      uv_timer_init(&loop_, status_timer_.get());
      status_timer_->data = this;
      uv_timer_start(
          status_timer_.get(),
          [](uv_timer_t* t) { systemd::status(static_cast<Supervisor*>(t->data)->summary()); },
          2000, 2000);
      uv_unref(status_timer_.handle());
    }
  }

  // "3 connections, 120 req/s, 2 workers": open TCP connections and requests (or datagrams)
  // per second since the last summary.
  std::string summary() {
    uint64_t active = 0, requests = 0;
    for (unsigned w = 0; w < state_.workerCount(); ++w) {
      for (const auto& [name, s] : state_.worker(w).listeners) {
        active += s->accepted.load() - s->rejected.load() - s->closed.load();
        requests += s->requests.requests.load() + s->datagrams_in.load();
      }
    }
    uint64_t now = uv_now(&loop_);
    double rate = now > summary_ms_ && summary_ms_ != 0
                      ? static_cast<double>(requests - summary_requests_) * 1000.0 /
                            static_cast<double>(now - summary_ms_)
                      : 0.0;
    summary_ms_ = now;
    summary_requests_ = requests;
    return fmt::format("{} connections, {:.0f} req/s, {} workers", active, rate, workers_.size());
  }

  void beginShutdown() {
    state_.setPhase(ServerState::Phase::kDraining);
    systemd::stopping();
    watchdog_.reset();
    status_timer_.reset();
    sighup_.reset();
    shutting_down_ = true;
    // Our copies close now, so that once the workers close theirs the kernel stops completing
    // connections nobody will accept.
    sockets_.closeAll();
    for (auto& w : workers_) {
      w->drain();
    }
    if (workers_.empty() && retiring_.empty()) {
      finish();
      return;
    }
    uv_timer_start(
        timer_.get(),
        [](uv_timer_t* t) {
          auto* self = static_cast<Supervisor*>(t->data);
          spdlog::warn("shutdown_timeout reached: closing the remaining connections");
          for (auto& w : self->workers_) {
            w->closeConnections();
          }
          for (auto& w : self->retiring_) {
            w->closeConnections();
          }
        },
        static_cast<uint64_t>(state_.config().server.shutdown_timeout.count()), 0);
  }

  void onWorkerExit(Worker* w) {
    w->join();
    auto retired = std::find_if(retiring_.begin(), retiring_.end(),
                                [w](const auto& p) { return p.get() == w; });
    if (retired != retiring_.end()) {
      retiring_.erase(retired);
    } else if (!shutting_down_) {
      // A current worker only stops by itself when it failed to start.
      failed_ = true;
      ++exited_;
      beginShutdown();
      return;
    } else {
      ++exited_;
    }
    if (shutting_down_ && exited_ >= workers_.size() && retiring_.empty()) {
      finish();
    }
  }

  void finish() {
    spdlog::info("all workers stopped");
    // Nothing else keeps the main loop running: uv_run() returns.
    closeHandles();
    mailbox_->close();
  }

  void closeHandles() {
    closeAdmin();
    if (admin_ctx_) {
      admin_ctx_->timers().close();
    }
    sigterm_.reset();
    sigint_.reset();
    sighup_.reset();
    timer_.reset();
    watchdog_.reset();
    status_timer_.reset();
  }

  Reloader reloader_;
  ServerState state_;  // before the workers: they write into it until they are joined
  // The admin listener and what it needs on the main loop; admin_ctx_ outlives the final
  // uv_run(), in which the admin connections are freed.
  SocketSet sockets_;
  uv_loop_t loop_{};
  std::unique_ptr<LoopContext> admin_ctx_;
  std::shared_ptr<const config::Config> admin_config_;
  std::unique_ptr<net::TcpListener> admin_;
  std::unique_ptr<Mailbox> mailbox_;
  UvHandle<uv_signal_t> sigterm_;
  UvHandle<uv_signal_t> sigint_;
  UvHandle<uv_signal_t> sighup_;
  UvHandle<uv_timer_t> timer_;
  UvHandle<uv_timer_t> watchdog_;
  UvHandle<uv_timer_t> status_timer_;
  uint64_t watchdog_max_age_ms_ = 1000;
  uint64_t summary_ms_ = 0;
  uint64_t summary_requests_ = 0;
  std::vector<std::unique_ptr<Worker>> workers_;   // serving the configuration in force
  std::vector<unsigned> worker_state_;             // their indexes in state_
  std::vector<std::unique_ptr<Worker>> retiring_;  // draining after a reload took their place
  size_t exited_ = 0;
  bool shutting_down_ = false;
  bool failed_ = false;
};

}  // namespace

int runServer(std::shared_ptr<const config::Config> config, Reloader reloader) {
  // A peer that resets a connection must cost us an EPIPE from write(), not the process.
  std::signal(SIGPIPE, SIG_IGN);
  return Supervisor(std::move(config), std::move(reloader)).run();
}

}  // namespace portd::core
