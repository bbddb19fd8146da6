#include "server/supervisor.h"

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
#include "admin/server_state.h"
#include "config/loader.h"
#include "config/reload.h"
#include "core/mailbox.h"
#include "core/uv_handle.h"
#include "net/socket.h"
#include "net/tcp_listener.h"
#include "server/cpu_limit.h"
#include "server/log.h"
#include "server/socket_set.h"
#include "server/systemd.h"
#include "server/worker.h"

namespace portd::server {

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

// Says which build of each plugin serves: every one at start-up (`previous` null); after a
// reload, those new to the configuration and those whose file is another build than the one
// the previous configuration loaded. Listeners are made anew by a reload, so new connections
// reach the new build, while the retired listeners' connections keep running the old code.
void logPlugins(const config::Config& config, const config::Config* previous) {
  for (const config::PluginConfig& p : config.plugins) {
    const config::PluginConfig* before = nullptr;
    if (previous != nullptr) {
      auto it = std::find_if(previous->plugins.begin(), previous->plugins.end(),
                             [&](const config::PluginConfig& q) { return q.path == p.path; });
      before = it == previous->plugins.end() ? nullptr : &*it;
    }
    if (before == nullptr) {
      spdlog::info("plugin \"{}\" version {} loaded from {} ({})", p.name, p.version, p.path,
                   p.build);
    } else if (before->build != p.build) {
      spdlog::info(
          "plugin \"{}\" version {} loaded from {} ({}), a new build: new connections reach it, "
          "connections already open keep the old code (version {}, {}) until they close",
          p.name, p.version, p.path, p.build, before->version, before->build);
    }
  }
}

}  // namespace

Supervisor::Supervisor(std::shared_ptr<const config::Config> config, Reloader reloader)
    : Supervisor(std::move(config), std::move(reloader), Options{}) {}

Supervisor::Supervisor(std::shared_ptr<const config::Config> config, Reloader reloader,
                       Options options)
    : reloader_(std::move(reloader)), options_(options), state_(config, 0) {
  configs_.push_back(std::move(config));
  // Scrapes run on this thread, the only one that opens and closes sockets_'s descriptors.
  state_.setListenQueueReader(
      [this](const std::string& name) { return sockets_.listenQueues(name); });
  loop_ok_ = uv_loop_init(&loop_) == 0;
  // Made before run(), so that requestStop() and requestReload() work from the moment the
  // object exists; the loop does not run yet, so no thread is using it.
  if (loop_ok_) {
    mailbox_ = std::make_unique<core::Mailbox>(&loop_);
  }
}

Supervisor::~Supervisor() {
  if (loop_ok_) {
    closeHandles();
    mailbox_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
}

int Supervisor::run() {
  if (!loop_ok_) {
    setReady(false);
    return 1;
  }
  int status = serve();
  if (status != 0) {
    setReady(false);
  }
  // Close what serve() left open and let the close callbacks run.
  closeHandles();
  mailbox_.reset();
  uv_run(&loop_, UV_RUN_DEFAULT);
  configs_.clear();
  return status;
}

void Supervisor::requestStop() {
  if (mailbox_) {
    mailbox_->post([this] { stop("stop requested"); });
  }
}

void Supervisor::requestReload() {
  if (mailbox_) {
    mailbox_->post([this] { reload(); });
  }
}

bool Supervisor::waitReady() {
  std::unique_lock lock(mutex_);
  ready_cv_.wait(lock, [this] { return ready_ != 0; });
  return ready_ > 0;
}

net::Address Supervisor::boundAddress(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = addresses_.find(name);
  return it == addresses_.end() ? net::Address{} : it->second;
}

void Supervisor::setReady(bool ok) {
  {
    std::lock_guard lock(mutex_);
    if (ready_ == 0) {
      ready_ = ok ? 1 : -1;
    }
  }
  ready_cv_.notify_all();
}

void Supervisor::publishAddresses() {
  std::map<std::string, net::Address> addresses;
  for (const config::ListenerConfig& l : state_.config().listeners) {
    if (const SocketSet::Group* g = sockets_.find(l.name)) {
      addresses[l.name] = g->bound;
    }
  }
  if (admin_) {
    addresses["admin"] = admin_address_;
  }
  std::lock_guard lock(mutex_);
  addresses_ = std::move(addresses);
}

// Drops the configurations that only the main thread still refers to: their last reference
// (and with it a plugin's release_config) ends here, never on a worker.
void Supervisor::sweepConfigs() {
  std::erase_if(configs_, [this](const std::shared_ptr<const config::Config>& c) {
    return c.use_count() == 1 && c != state_.configPtr();
  });
}

int Supervisor::serve() {
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
  logPlugins(config, nullptr);
  logListeners(config, workers);
  if (!openAdmin(config)) {
    return 1;
  }

  if (options_.signals) {
    for (auto* s : {sigterm_.get(), sigint_.get(), sighup_.get()}) {
      uv_signal_init(&loop_, s);
      s->data = this;
    }
    uv_signal_start(sigterm_.get(), &onStop, SIGTERM);
    uv_signal_start(sigint_.get(), &onStop, SIGINT);
    uv_signal_start(
        sighup_.get(), [](uv_signal_t* h, int) { static_cast<Supervisor*>(h->data)->reload(); },
        SIGHUP);
  }
  uv_timer_init(&loop_, timer_.get());
  timer_->data = this;
  // Retired configurations are let go of within a second of their last user.
  uv_timer_init(&loop_, sweep_timer_.get());
  sweep_timer_->data = this;
  uv_timer_start(
      sweep_timer_.get(), [](uv_timer_t* t) { static_cast<Supervisor*>(t->data)->sweepConfigs(); },
      1000, 1000);
  uv_unref(sweep_timer_.handle());

  if (!startWorkers(workers)) {
    failed_ = true;
    beginShutdown();
  } else {
    state_.setPhase(admin::ServerState::Phase::kReady);
    spdlog::info("portd ready: {} workers, {} listeners", workers, config.listeners.size());
    systemd::ready(summary());
    startServiceTimers();
    publishAddresses();
    setReady(true);
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
bool Supervisor::openAdmin(const config::Config& config) {
  if (!config.admin_address) {
    closeAdmin();
    return true;
  }
  if (admin_ && admin_requested_ == *config.admin_address) {
    return true;  // unchanged by a reload
  }
  std::string error;
  // One socket, without SO_REUSEPORT: a second daemon on the same address must fail.
  int fd = net::openBoundSocket(net::Transport::kTcp, *config.admin_address,
                                net::Sharing::kExclusive, &error);
  if (fd < 0) {
    spdlog::critical("admin endpoint: {}", error);
    return false;
  }
  closeAdmin();
  if (!admin_ctx_) {
    admin_ctx_ = std::make_unique<core::LoopContext>(&loop_, -1);
  }
  net::ListenerSettings settings;
  settings.name = "admin";
  settings.max_connections = 64;
  settings.idle_timeout = std::chrono::seconds(60);
  settings.write_buffer_limit = 1 << 20;
  admin_ = std::make_unique<net::TcpListener>(*admin_ctx_, std::move(settings),
                                              admin::adminHandlerConfig(state_));
  admin_->keepReserveDescriptor();
  if (int rc = admin_->listen(fd); rc != 0) {
    spdlog::critical("admin endpoint: {}", uv_strerror(rc));
    admin_.reset();
    return false;
  }
  admin_requested_ = *config.admin_address;
  admin_address_ = net::localAddress(fd);
  spdlog::info("admin endpoint on http://{} (/healthz /readyz /metrics /stats /config)",
               admin_address_.toString());
  return true;
}

void Supervisor::closeAdmin() {
  if (admin_) {
    admin_->stopAccepting();
    admin_->abortAll();
    admin_.reset();
  }
}

// Starts workers until there are `count`; false if one cannot start.
bool Supervisor::startWorkers(unsigned count) {
  while (workers_.size() < count) {
    unsigned index = static_cast<unsigned>(workers_.size());
    unsigned state_index = state_.workerCount();
    admin::WorkerState& ws = state_.addWorker();
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
Assignment Supervisor::assignmentFor(unsigned index, unsigned count, unsigned state_index) {
  const config::Config& config = state_.config();
  Assignment a;
  a.config = state_.configPtr();
  for (const config::ListenerConfig& l : config.listeners) {
    a.fds.push_back(sockets_.assign(l.name, index, count));
    const SocketSet::Group* g = sockets_.find(l.name);
    a.sockets_total.push_back(g->passed ? count : static_cast<unsigned>(g->fds.size()));
    a.stats.push_back(state_.stats(state_index, l.name));
  }
  if (config.server.max_connections > 0) {
    // Shared out evenly, as a listener's max_connections is: workers share no counter.
    a.connection_limit = (config.server.max_connections + count - 1) / count;
  }
  return a;
}

void Supervisor::onStop(uv_signal_t* handle, int signum) {
  auto* self = static_cast<Supervisor*>(handle->data);
  self->stop(strsignal(signum));
}

void Supervisor::stop(const char* why) {
  Supervisor* self = this;
  if (self->shutting_down_) {
    // The operator asked twice: stop waiting for connections.
    spdlog::warn("{} again: exiting now", why);
    spdlog::default_logger()->flush();
    // exit_group directly: not even a sanitizer's exit hooks may run here, since the workers
    // are still busy and "now" is what was asked for (TSan would report them as leaked and
    // change the status).
    syscall(SYS_exit_group, 1);
    __builtin_unreachable();
  }
  spdlog::info("{}: draining; open connections have {} ms to finish", why,
               self->state_.config().server.shutdown_timeout.count());
  self->beginShutdown();
}

// SIGHUP: read and check the whole new configuration (plugins included) before touching
// anything; an invalid one changes nothing.
void Supervisor::reload() {
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
  // A listener the file leaves as it was keeps its handler configuration, and so every
  // worker keeps its listener objects and their handler instances with whatever state they
  // built up. Only with as many workers as before: sockets are spread over workers by count,
  // so with another count every listener object gets other sockets, or none. The handler
  // configurations the reload made again for those listeners are released here, with `next`'s
  // last reference, on this thread.
  std::vector<std::string> kept;
  if (workers == workers_.size()) {
    next = config::carryOverHandlers(state_.config(), std::move(next), &kept);
  }
  // From here on the new configuration is in force. Sockets of removed listeners are left
  // in sockets_: closed once every worker has let go of its copy (they are dups).
  SocketSet removed = std::move(sockets_);
  sockets_ = std::move(prepared);
  std::shared_ptr<const config::Config> previous = state_.configPtr();
  state_.setConfig(next);
  configs_.push_back(next);
  applyLogging(next->log);
  if (!openAdmin(*next)) {
    spdlog::error("the admin endpoint could not move to its new address; it is off");
  }
  // "Reloaded" (and READY=1, which ends `systemctl reload`) is said once every worker serves
  // the new configuration, not when it was handed over: a worker may take a while (a handler
  // that builds state in create()), and a client that connects once the reload is reported
  // must meet the new configuration. Workers started below serve it when start() returns.
  unsigned keep = std::min<unsigned>(workers, static_cast<unsigned>(workers_.size()));
  const uint64_t serial = ++reload_serial_;
  // One more for this function, released at its end.
  pending_reloads_.push_back({serial, keep + size_t{1}, std::string()});
  for (unsigned i = 0; i < keep; ++i) {
    workers_[i]->reconfigure(assignmentFor(i, workers, worker_state_[i]), [this, serial] {
      mailbox_->post([this, serial] { onWorkerApplied(serial); });
    });
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
  reloads_ = state_.reloads;
  publishAddresses();
  logPlugins(*next, previous.get());
  logListeners(*next, workers);
  if (!kept.empty()) {
    spdlog::info("unchanged listeners keep their handler instances: {}", fmt::join(kept, ", "));
  }
  pending_reloads_.back().message =
      fmt::format("configuration reloaded from {}: {} workers, {} listeners, {} unchanged{}",
                  next->source, workers_.size(), next->listeners.size(), kept.size(),
                  started ? "" : " (a new worker could not start)");
  onWorkerApplied(serial);
}

void Supervisor::onWorkerApplied(uint64_t serial) {
  for (PendingReload& r : pending_reloads_) {
    if (r.serial == serial && r.waiting > 0) {
      --r.waiting;
      break;
    }
  }
  while (!pending_reloads_.empty() && pending_reloads_.front().waiting == 0) {
    spdlog::info("{}", pending_reloads_.front().message);
    pending_reloads_.pop_front();
    if (!shutting_down_) {
      systemd::ready(summary());
    }
  }
}

void Supervisor::refuseReload(const std::string& why) {
  ++state_.reload_failures;
  reload_failures_ = state_.reload_failures;
  spdlog::error("reload refused, the previous configuration keeps serving: {}", why);
  systemd::ready(summary());
}

void Supervisor::rejectUnclaimed(std::map<std::string, std::vector<int>>& passed) {
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

void Supervisor::logListeners(const config::Config& config, unsigned workers) {
  for (const config::ListenerConfig& l : config.listeners) {
    const SocketSet::Group* g = sockets_.find(l.name);
    spdlog::info("listener \"{}\": {} {} on {} ({} workers{})", l.name,
                 config::transportName(l.protocol), l.handler, g->bound.toString(), workers,
                 g->passed ? ", socket from systemd" : "");
  }
}

// The watchdog (WatchdogSec=): WATCHDOG=1 only while every worker loop turns, so that a
// stuck worker stops the pings and systemd restarts the service. And STATUS= every 2 s.
void Supervisor::startServiceTimers() {
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
        [](uv_timer_t* t) { systemd::status(static_cast<Supervisor*>(t->data)->summary()); }, 2000,
        2000);
    uv_unref(status_timer_.handle());
  }
}

// "3 connections, 120 req/s, 2 workers": open TCP connections and requests (or datagrams)
// per second since the last summary.
std::string Supervisor::summary() {
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

void Supervisor::beginShutdown() {
  state_.setPhase(admin::ServerState::Phase::kDraining);
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

void Supervisor::onWorkerExit(Worker* w) {
  w->join();
  auto retired =
      std::find_if(retiring_.begin(), retiring_.end(), [w](const auto& p) { return p.get() == w; });
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

void Supervisor::finish() {
  spdlog::info("all workers stopped");
  // Nothing else keeps the main loop running: uv_run() returns.
  closeHandles();
  mailbox_->close();
}

void Supervisor::closeHandles() {
  closeAdmin();
  if (admin_ctx_) {
    admin_ctx_->timers().close();
    // Frees the admin connections closed above (the poller defers that) and closes the
    // poller's libuv handles, whose close callbacks the final uv_run() runs.
    admin_ctx_.reset();
  }
  sigterm_.reset();
  sigint_.reset();
  sighup_.reset();
  timer_.reset();
  watchdog_.reset();
  status_timer_.reset();
  sweep_timer_.reset();
}

int runServer(std::shared_ptr<const config::Config> config, Reloader reloader) {
  // A peer that resets a connection must cost us an EPIPE from write(), not the process.
  std::signal(SIGPIPE, SIG_IGN);
  return Supervisor(std::move(config), std::move(reloader)).run();
}

}  // namespace portd::server
