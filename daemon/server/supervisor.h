#pragma once

#include <uv.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "admin/server_state.h"
#include "config/config.h"
#include "core/loop_context.h"
#include "core/mailbox.h"
#include "core/uv_handle.h"
#include "net/tcp_listener.h"
#include "server/socket_set.h"
#include "server/worker.h"

namespace portd::server {

// Reads the configuration again for a reload (SIGHUP); throws config::ConfigError (or any
// std::exception) when it is not valid.
using Reloader = std::function<std::shared_ptr<const config::Config>()>;

// The main thread of the daemon: binds the sockets, runs the workers, serves the admin
// endpoint, and drains (SIGTERM, SIGINT) or reloads (SIGHUP). Everything it owns lives on its
// own loop, which run() turns on the calling thread; requestStop(), requestReload() and
// waitReady() may be called from any thread, which is how a test runs a whole daemon in
// process.
class Supervisor {
 public:
  struct Options {
    // Handle SIGTERM, SIGINT and SIGHUP (a daemon does; a test in a process of its own may not).
    bool signals = true;
  };

  Supervisor(std::shared_ptr<const config::Config> config, Reloader reloader);
  Supervisor(std::shared_ptr<const config::Config> config, Reloader reloader, Options options);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Serves until the drain ends. Returns the process exit status: 0 after a clean shutdown, 1
  // when a listener could not be bound or a worker could not start. Call once.
  int run();

  // Any thread: the same as SIGTERM / SIGHUP.
  void requestStop();
  void requestReload();
  // Any thread: waits until the daemon serves (true) or failed to start (false).
  bool waitReady();
  // Any thread, once ready: the address listener `name` is bound to (the port the kernel chose
  // for port 0), or an empty address. "admin" names the admin endpoint.
  net::Address boundAddress(const std::string& name) const;
  // Any thread: reloads applied and refused so far.
  uint64_t reloads() const { return reloads_.load(); }
  uint64_t reloadFailures() const { return reload_failures_.load(); }

 private:
  int serve();
  bool openAdmin(const config::Config& config);
  void closeAdmin();
  bool startWorkers(unsigned count);
  Assignment assignmentFor(unsigned index, unsigned count, unsigned state_index);
  static void onStop(uv_signal_t* handle, int signum);
  void stop(const char* why);
  void reload();
  void refuseReload(const std::string& why);
  void onWorkerApplied(uint64_t serial);
  void rejectUnclaimed(std::map<std::string, std::vector<int>>& passed);
  void logListeners(const config::Config& config, unsigned workers);
  void publishAddresses();
  void setReady(bool ok);
  void startServiceTimers();
  std::string summary();
  void beginShutdown();
  void onWorkerExit(Worker* w);
  void finish();
  void closeHandles();
  void sweepConfigs();

  Reloader reloader_;
  Options options_;
  admin::ServerState state_;  // before the workers: they write into it until they are joined
  SocketSet sockets_;
  uv_loop_t loop_{};
  bool loop_ok_ = false;
  // The admin listener and what it needs on the main loop; admin_ctx_ goes in closeHandles(),
  // before the final uv_run(), which runs the close callbacks of its poller's handles.
  std::unique_ptr<core::LoopContext> admin_ctx_;
  net::Address admin_requested_;  // as configured
  net::Address admin_address_;    // as bound
  std::unique_ptr<net::TcpListener> admin_;
  std::unique_ptr<core::Mailbox> mailbox_;
  core::UvHandle<uv_signal_t> sigterm_;
  core::UvHandle<uv_signal_t> sigint_;
  core::UvHandle<uv_signal_t> sighup_;
  core::UvHandle<uv_timer_t> timer_;
  core::UvHandle<uv_timer_t> watchdog_;
  core::UvHandle<uv_timer_t> status_timer_;
  // Every configuration a worker was given: the main thread drops its reference only once it
  // is the last one, so that a configuration (and a plugin's release_config) always ends here.
  std::vector<std::shared_ptr<const config::Config>> configs_;
  core::UvHandle<uv_timer_t> sweep_timer_;
  uint64_t watchdog_max_age_ms_ = 1000;
  uint64_t summary_ms_ = 0;
  uint64_t summary_requests_ = 0;
  std::vector<std::unique_ptr<Worker>> workers_;   // serving the configuration in force
  std::vector<unsigned> worker_state_;             // their indexes in state_
  std::vector<std::unique_ptr<Worker>> retiring_;  // draining after a reload took their place
  size_t exited_ = 0;
  bool shutting_down_ = false;
  // Reloads handed to the workers and not yet reported, oldest first: the workers that have
  // yet to say they serve each, and what is logged (and told to systemd) once none is left.
  // A worker's mailbox runs in order, so reloads finish in the order they were made.
  struct PendingReload {
    uint64_t serial;
    size_t waiting;
    std::string message;
  };
  std::deque<PendingReload> pending_reloads_;
  uint64_t reload_serial_ = 0;
  bool failed_ = false;

  // Shared with other threads.
  mutable std::mutex mutex_;
  std::condition_variable ready_cv_;
  int ready_ = 0;  // 0 not yet, 1 serving, -1 failed
  std::map<std::string, net::Address> addresses_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<uint64_t> reloads_{0};
  std::atomic<uint64_t> reload_failures_{0};
};

// How many workers "workers = 0" means: the CPUs in this process's affinity mask, and no more
// than its cgroup's CPU quota allows (see server/cpu_limit.h).
unsigned defaultWorkerCount();

// Runs a Supervisor for the daemon (signals handled, SIGPIPE ignored).
int runServer(std::shared_ptr<const config::Config> config, Reloader reloader = {});

}  // namespace portd::server
