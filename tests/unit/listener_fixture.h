#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/loop_context.h"
#include "loop_fixture.h"
#include "net/tcp_listener.h"
#include "test_support.h"

namespace portd::test {

// A TcpListener of one handler on the test's loop, and clients of it that are closed, and
// their connections gone, before the loop is checked for leaked handles.
class ListenerTest : public LoopTest {
 protected:
  // `extra`: more keys of the [[listener]]. With `sndbuf`, accepted sockets inherit that send
  // buffer from the listening socket.
  void listen(const std::string& handler, const std::string& extra = "", int sndbuf = 0) {
    cfg_ = oneListener("tcp", handler, extra);
    ctx_.emplace(loop(), 0);
    // As a worker does with [server] io_uring = true, the default.
    ctx_->poller().sends().enable(true);
    const int fd = boundSocket(cfg_->listeners[0], &addr_);
    if (sndbuf > 0) {
      ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
    }
    listener_ =
        std::make_unique<net::TcpListener>(*ctx_, cfg_->listeners[0].settings(1),
                                           handler_ ? handler_ : config::sharedHandler(cfg_, 0));
    ASSERT_EQ(listener_->listen(fd), 0);
  }

  // A non-blocking client, connecting; with `rcvbuf`, a receive buffer that small.
  int connectClient(int rcvbuf = 0) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (rcvbuf > 0) {
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }
    ::connect(fd, addr_.sockaddr_ptr(), addr_.length());
    clients_.push_back(fd);
    return fd;
  }

  // Closes the clients; their connections go, then the listener.
  void closeClientsAndListener() {
    for (int fd : clients_) {
      ::close(fd);
    }
    clients_.clear();
    if (listener_) {
      ASSERT_TRUE(runUntil([&] { return listener_->connectionCount() == 0; }));
    }
    listener_.reset();
  }

  void TearDown() override {
    for (int fd : clients_) {
      ::close(fd);
    }
    if (listener_) {
      runUntil([&] { return listener_->connectionCount() == 0; });
    }
    // As a worker ends: the pool's timers (a lingering connection's) close first, and their
    // handles, which the pool owns, finish closing before it goes.
    if (ctx_) {
      ctx_->timers().close();
    }
    listener_.reset();
    uv_run(loop(), UV_RUN_NOWAIT);
    ctx_.reset();
    LoopTest::TearDown();
  }

  // When set before listen(), the listener's handler instead of the one the configuration names.
  std::shared_ptr<const net::HandlerConfig> handler_;
  std::shared_ptr<const config::Config> cfg_;
  std::optional<core::LoopContext> ctx_;
  std::unique_ptr<net::TcpListener> listener_;
  net::Address addr_;
  std::vector<int> clients_;
};

}  // namespace portd::test
