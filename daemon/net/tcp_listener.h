#pragma once

#include <uv.h>

#include <functional>
#include <memory>

#include "config/config.h"
#include "core/loop_context.h"
#include "core/rate_limit.h"
#include "core/uv_handle.h"
#include "handlers/handler.h"
#include "net/connection.h"
#include "net/listener_stats.h"

namespace portd::net {

// One TCP listener on one worker: its own SO_REUSEPORT socket, its own handler instance and
// the connections it accepted. Loop thread only.
//
// It outlives its listening socket: stopAccepting() closes the socket, while the connections
// (which use the handler and the settings) go on until they end or abortAll() is called.
class TcpListener {
 public:
  // `config` keeps `listener` alive: connections keep the settings they started with even if
  // the daemon moves on to a newer configuration.
  TcpListener(core::LoopContext& ctx, std::shared_ptr<const config::Config> config,
              const config::ListenerConfig& listener, unsigned workers);
  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  // Takes ownership of a bound socket and starts accepting. Returns 0 or a libuv error.
  int listen(int fd, int backlog = 511);
  void stopAccepting();
  // Closes every connection now.
  void abortAll();

  // Visits every open connection (for tests and for reports); `fn` must not close them.
  template <typename Fn>
  void forEachConnection(Fn&& fn) const {
    for (Connection* c = head_; c != nullptr; c = c->next_) {
      fn(*c);
    }
  }

  bool accepting() const { return static_cast<bool>(server_); }
  size_t connectionCount() const { return count_; }
  // Called when the listener has stopped accepting and its last connection has closed.
  void setOnDrained(std::function<void()> fn) { on_drained_ = std::move(fn); }

  core::LoopContext& context() const { return ctx_; }
  const config::ListenerConfig& config() const { return listener_; }
  handlers::Handler& handler() const { return *handler_; }
  ListenerStats& stats() { return stats_; }

 private:
  friend class Connection;
  static void onConnection(uv_stream_t* server, int status);
  void accept();
  void unlink(Connection* c);

  core::LoopContext& ctx_;
  std::shared_ptr<const config::Config> config_;
  const config::ListenerConfig& listener_;
  const uint64_t max_connections_;
  std::unique_ptr<handlers::Handler> handler_;
  core::UvHandle<uv_tcp_t> server_;
  Connection* head_ = nullptr;
  size_t count_ = 0;
  ListenerStats stats_;
  core::RateLimit accept_error_log_;
  core::RateLimit reject_log_;
  std::function<void()> on_drained_;
};

}  // namespace portd::net
