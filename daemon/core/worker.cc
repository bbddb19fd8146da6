#include "core/worker.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "net/tcp_listener.h"
#include "net/udp_socket.h"

namespace portd::core {

Worker::Worker(int id, unsigned worker_count, std::shared_ptr<const config::Config> config,
               std::vector<int> fds, WorkerState& state, std::function<void(int)> on_exit)
    : id_(id),
      worker_count_(worker_count),
      config_(std::move(config)),
      fds_(std::move(fds)),
      state_(state),
      on_exit_(std::move(on_exit)) {}

Worker::~Worker() {
  join();
  for (int fd : fds_) {
    if (fd >= 0) {
      ::close(fd);  // never handed to a listener
    }
  }
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

void Worker::drain() {
  post([this] { beginDrain(); });
}

void Worker::closeConnections() {
  post([this] {
    for (auto& l : tcp_) {
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
  ctx_ = std::make_unique<LoopContext>(&loop_, id_);
  mailbox_ = std::make_unique<Mailbox>(&loop_);
  uv_timer_init(&loop_, heartbeat_.get());
  heartbeat_->data = &state_;
  uv_timer_start(
      heartbeat_.get(),
      [](uv_timer_t* t) {
        static_cast<WorkerState*>(t->data)->heartbeat_ms.store(ServerState::nowMs(),
                                                               std::memory_order_relaxed);
      },
      0, 250);
  uv_unref(heartbeat_.handle());
  rc = openListeners();
  started_.set_value(rc);
  if (rc != 0) {
    beginDrain();
  }
  uv_run(&loop_, UV_RUN_DEFAULT);

  // Every handle is closed by now (the loop only ends when none is active); destroying the
  // listeners frees the handler instances, and one more turn runs the last close callbacks.
  // Handler timers go first: none may fire into an instance that is being destroyed.
  ctx_->timers().close();
  heartbeat_.reset();
  tcp_.clear();
  udp_.clear();
  mailbox_->close();
  uv_run(&loop_, UV_RUN_DEFAULT);
  int closed = uv_loop_close(&loop_);
  if (closed != 0) {
    spdlog::error("worker {}: loop closed with handles still open: {}", id_, uv_strerror(closed));
  }
  state_.exited = true;
  if (on_exit_) {
    on_exit_(id_);
  }
}

int Worker::openListeners() {
  for (size_t i = 0; i < config_->listeners.size(); ++i) {
    const config::ListenerConfig& l = config_->listeners[i];
    int fd = std::exchange(fds_[i], -1);
    int rc = 0;
    try {
      if (l.protocol == net::Transport::kTcp) {
        auto& listener = tcp_.emplace_back(
            std::make_unique<net::TcpListener>(*ctx_, config_, l, worker_count_, state_.listeners[i]));
        listener->setOnDrained([this] { checkDrained(); });
        rc = listener->listen(fd);
      } else {
        auto& socket = udp_.emplace_back(std::make_unique<net::UdpSocket>(*ctx_, config_, l, state_.listeners[i]));
        rc = socket->open(fd);
      }
    } catch (const std::exception& e) {
      // The handler could not make its instance; the socket was not adopted.
      if (fd >= 0) {
        ::close(fd);
      }
      spdlog::error("worker {}: listener \"{}\": {}", id_, l.name, e.what());
      return UV_EINVAL;
    }
    if (rc != 0) {
      spdlog::error("worker {}: listener \"{}\": {}", id_, l.name, uv_strerror(rc));
      return rc;
    }
  }
  return 0;
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
    l->stopAccepting();
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
  finished_ = true;
  spdlog::debug("worker {}: drained", id_);
  // With the mailbox closed, nothing keeps the loop alive: uv_run() returns.
  mailbox_->close();
}

}  // namespace portd::core
