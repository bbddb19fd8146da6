#include "server/worker.h"

#include <malloc.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "net/tcp_listener.h"
#include "net/udp_socket.h"

namespace portd::server {

namespace {

void closeFds(Assignment& a) {
  for (auto& list : a.fds) {
    for (int& fd : list) {
      if (fd >= 0) {
        ::close(fd);
        fd = -1;
      }
    }
  }
}

// Whether a listener object still serves its socket.
bool serving(const net::TcpListener& l) { return l.accepting(); }
bool serving(const net::UdpSocket& s) { return s.receiving(); }

// Moves from `from` to `to` the objects that may go on serving a listener of a new
// configuration: made from that very `handler` configuration, with the same settings (but for
// the faults, which they take on), still
// serving, and one per socket handed for the listener (as apply() would make them). All of
// them or none: false leaves `from` as it was.
template <typename T>
bool takeKept(std::vector<std::unique_ptr<T>>& from, std::vector<std::unique_ptr<T>>& to,
              const std::shared_ptr<const net::HandlerConfig>& handler,
              const net::ListenerSettings& settings, size_t sockets) {
  auto same = [&](const std::unique_ptr<T>& o) {
    return o->handlerConfig() == handler.get() && o->settings().sameExceptFaults(settings) &&
           serving(*o);
  };
  if (sockets == 0 ||
      static_cast<size_t>(std::count_if(from.begin(), from.end(), same)) != sockets) {
    return false;
  }
  for (auto& o : from) {
    if (same(o)) {
      o->holdHandlerConfig(handler);
      // Faults change in place, for the connections already open too.
      o->setFaults(settings.faults);
      to.push_back(std::move(o));
    }
  }
  std::erase(from, nullptr);
  return true;
}

}  // namespace

Worker::Worker(int id, Assignment assignment, admin::WorkerState& state,
               std::function<void(Worker*)> on_exit)
    : id_(id), initial_(std::move(assignment)), state_(state), on_exit_(std::move(on_exit)) {}

Worker::~Worker() {
  join();
  closeFds(initial_);  // only if the thread never took them
}

int Worker::start() {
  auto started = started_.get_future();
  thread_ = std::thread([this] { run(); });
  return started.get();
}

void Worker::join() {
  if (thread_.joinable()) {
    thread_.join();
  }
}

bool Worker::post(std::function<void()> fn) {
  // mailbox_ is created before start() returns and destroyed only after the loop ended; post()
  // after that is refused by the closed mailbox.
  return mailbox_ && mailbox_->post(std::move(fn));
}

void Worker::reconfigure(Assignment assignment, std::function<void()> applied) {
  auto shared = std::make_shared<Assignment>(std::move(assignment));
  bool posted = post([this, shared, applied] {
    if (draining_) {
      closeFds(*shared);
    } else {
      keepUnchanged(*shared);
      if (int rc = apply(*shared); rc != 0) {
        spdlog::error("worker {}: the new configuration could not be applied: {}", id_,
                      uv_strerror(rc));
      }
    }
    applied();
  });
  if (!posted) {
    closeFds(*shared);
    applied();
  }
}

void Worker::drain() {
  post([this] { beginDrain(); });
}

void Worker::closeConnections() {
  post([this] {
    for (auto& l : tcp_) {
      l->abortAll();
    }
    for (auto& l : retired_) {
      l->abortAll();
    }
  });
}

void Worker::run() {
  int rc = uv_loop_init(&loop_);
  if (rc != 0) {
    started_.set_value(rc);
    return;
  }
  ctx_ = std::make_unique<core::LoopContext>(&loop_, id_, core::IoPoller::Mode::kDriving);
  mailbox_ = std::make_unique<core::Mailbox>(&loop_);
  uv_timer_init(&loop_, heartbeat_.get());
  heartbeat_->data = this;
  uv_timer_start(
      heartbeat_.get(), [](uv_timer_t* t) { static_cast<Worker*>(t->data)->onHeartbeat(); }, 0,
      250);
  uv_unref(heartbeat_.handle());
  rc = apply(initial_);
  // The listener objects hold what they need of the configuration. Holding it here as well
  // would keep it for the life of the worker, and with it every handler configuration a
  // reload has replaced since; the supervisor still holds it, so this is never the last
  // reference (configurations are released on the main thread).
  initial_.config.reset();
  started_.set_value(rc);
  if (rc != 0) {
    beginDrain();
  }
  runLoop();

  // Every handle is closed by now (the loop only ends when none is active); destroying the
  // listeners frees the handler instances, and one more turn runs the last close callbacks.
  // Handler timers go first: none may fire into an instance that is being destroyed.
  ctx_->timers().close();
  heartbeat_.reset();
  tcp_.clear();
  udp_.clear();
  retired_.clear();
  mailbox_->close();
  ctx_->poller().runDeferred();  // frees the connections just closed
  uv_run(&loop_, UV_RUN_DEFAULT);
  int closed = uv_loop_close(&loop_);
  if (closed != 0) {
    spdlog::error("worker {}: loop closed with handles still open: {}", id_, uv_strerror(closed));
  }
  state_.exited = true;
  if (on_exit_) {
    on_exit_(this);
  }
}

void Worker::runLoop() {
  // Blocks in the poller's epoll_wait, which watches the sockets and libuv's own descriptor;
  // libuv runs when it has something to do (core/io_poller.h). Latency mode ([server]
  // busy_poll): polls without sleeping for busy_poll after the last event, then blocks as
  // usual. A request that arrives meanwhile is picked up without the cost of waking a
  // sleeping thread, at the price of a CPU kept busy.
  ctx_->poller().run(&busy_poll_ns_);
}

void Worker::onHeartbeat() {
  state_.heartbeat_ms.store(admin::ServerState::nowMs(), std::memory_order_relaxed);
  // What connections held (queued output, kept input, parser buffers) goes back to malloc when
  // they close, and malloc keeps it in its arenas: after a burst (peers that never read, then
  // left) the process would keep that memory for good. So after a burst ends (connections
  // closed in numbers, or the pools freed blocks) the pool's cache is cut back and malloc is
  // asked to return free pages; at most once a second per worker, and never during steady
  // traffic, where neither happens.
  constexpr uint64_t kReleasedBurst = 1 << 20;
  constexpr uint64_t kClosedBurst = 8;
  const uint64_t open = ctx_->openConnections();
  open_high_water_ = std::max(open_high_water_, open);
  released_bytes_ += ctx_->readPool().takeFreedBytes() + ctx_->writePool().takeFreedBytes();
  const uint64_t now = uv_now(&loop_);
  const bool burst_ended = released_bytes_ >= kReleasedBurst ||
                           open_high_water_ >= open + kClosedBurst ||
                           (open == 0 && open_high_water_ > 0);
  if (burst_ended && now - last_trim_ms_ >= 1000) {
    if (ctx_->writePool().outstanding() == 0) {
      ctx_->writePool().trim(16);
      ctx_->writePool().takeFreedBytes();
    }
    ::malloc_trim(0);
    last_trim_ms_ = now;
    released_bytes_ = 0;
    open_high_water_ = open;
  }
}

int Worker::apply(Assignment& a) {
  const config::Config& config = *a.config;
  ctx_->setConnectionLimit(a.connection_limit);
  const uint64_t busy_poll_ns =
      static_cast<uint64_t>(std::chrono::nanoseconds(config.server.busy_poll).count());
  busy_poll_ns_ = busy_poll_ns;
  // Between batches of events, so a reload switches it cleanly.
  if (!ctx_->poller().sends().enable(config.server.io_uring) && config.server.io_uring &&
      !uring_refusal_logged_) {
    uring_refusal_logged_ = true;
    spdlog::log(
        id_ == 0 ? spdlog::level::info : spdlog::level::debug,
        "worker {}: io_uring refused ({}): each reply is sent with a system call of its own", id_,
        std::strerror(ctx_->poller().sends().error()));
  }
  int first_error = 0;
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    const config::ListenerConfig& l = config.listeners[i];
    for (int& fd_slot : a.fds[i]) {
      int fd = std::exchange(fd_slot, -1);
      int rc = 0;
      try {
        std::shared_ptr<const net::HandlerConfig> handler = config::sharedHandler(a.config, i);
        if (l.protocol == net::Transport::kTcp) {
          auto& listener = tcp_.emplace_back(std::make_unique<net::TcpListener>(
              *ctx_, l.settings(a.sockets_total[i]), std::move(handler), a.stats[i]));
          listener->setOnDrained([this] { checkDrained(); });
          rc = listener->listen(fd, net::TcpListener::kListening);
        } else {
          auto& socket = udp_.emplace_back(std::make_unique<net::UdpSocket>(
              *ctx_, l.settings(1), std::move(handler), a.stats[i]));
          rc = socket->open(fd);
        }
      } catch (const std::exception& e) {
        // The handler could not make its instance; the socket was not adopted.
        ::close(fd);
        spdlog::error("worker {}: listener \"{}\": {}", id_, l.name, e.what());
        rc = UV_EINVAL;
      }
      if (rc != 0) {
        spdlog::error("worker {}: listener \"{}\": {}", id_, l.name, uv_strerror(rc));
        first_error = first_error ? first_error : rc;
      }
    }
  }
  closeFds(a);  // after an error, the ones not reached
  return first_error;
}

// The first half of moving to a new configuration. The objects of a listener whose handler
// configuration the supervisor carried over (config/reload.h) go on serving, so that their
// handler instances keep their state; the dups handed for that listener are closed, since
// the objects already hold the very same sockets. Every other object is retired, and apply()
// then makes new ones for the sockets left in `a`.
void Worker::keepUnchanged(Assignment& a) {
  const config::Config& config = *a.config;
  std::vector<std::unique_ptr<net::TcpListener>> tcp;
  std::vector<std::unique_ptr<net::UdpSocket>> udp;
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    const config::ListenerConfig& l = config.listeners[i];
    std::shared_ptr<const net::HandlerConfig> handler = config::sharedHandler(a.config, i);
    bool kept = l.protocol == net::Transport::kTcp
                    ? takeKept(tcp_, tcp, handler, l.settings(a.sockets_total[i]), a.fds[i].size())
                    : takeKept(udp_, udp, handler, l.settings(1), a.fds[i].size());
    if (kept) {
      spdlog::debug("worker {}: listener \"{}\" is unchanged: its handler instances go on", id_,
                    l.name);
      for (int fd : a.fds[i]) {
        ::close(fd);
      }
      a.fds[i].clear();
    }
  }
  retireAll();
  tcp_ = std::move(tcp);
  udp_ = std::move(udp);
}

void Worker::retireAll() {
  // UDP sockets have no connections: they stop at once. Their descriptors are dups, so the
  // socket itself (and whatever datagrams wait in it) lives on in the new UdpSocket.
  for (auto& s : udp_) {
    s->stop();
  }
  udp_.clear();
  for (auto& l : tcp_) {
    l->setOnDrained([this] { post([this] { sweepRetired(); }); });
    l->stopAccepting();
    retired_.push_back(std::move(l));
  }
  tcp_.clear();
  sweepRetired();
}

// Frees retired listeners whose last connection has gone. Never called from inside one of
// their callbacks (it runs from the mailbox), so destroying them here is safe.
void Worker::sweepRetired() {
  std::erase_if(retired_, [](const auto& l) { return l->connectionCount() == 0; });
  checkDrained();
}

void Worker::beginDrain() {
  if (draining_) {
    return;
  }
  draining_ = true;
  for (auto& s : udp_) {
    s->stop();
  }
  for (auto& l : tcp_) {
    l->acceptBacklogAndStop();
    l->drainConnections();
  }
  for (auto& l : retired_) {
    l->drainConnections();
  }
  checkDrained();
}

void Worker::checkDrained() {
  if (!draining_ || finished_) {
    return;
  }
  for (auto& l : tcp_) {
    if (l->accepting() || l->connectionCount() > 0) {
      return;
    }
  }
  for (auto& l : retired_) {
    if (l->connectionCount() > 0) {
      return;
    }
  }
  finished_ = true;
  spdlog::debug("worker {}: drained", id_);
  // With the mailbox closed, nothing keeps the loop alive: uv_run() returns.
  mailbox_->close();
}

}  // namespace portd::server
