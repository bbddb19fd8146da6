#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "core/uv_handle.h"

namespace portd::net {
class Connection;
}

namespace portd::handlers::http {

// Connections between requests that hold no Session: a keep-alive connection costs its node
// here (40 bytes, from slabs) instead of a whole session (the parser, its buffers, two
// timers), as nginx frees a keep-alive connection's request state between requests.
//
// One list per timeout (before the first request: the shorter of header_timeout and
// keepalive_timeout; after a response: keepalive_timeout), so it is ordered by the time each
// connection went idle, and one timer armed for the oldest serves them all. Loop thread only.
class IdleList {
 public:
  struct Node {
    net::Connection* conn;
    Node* newer;
    Node* older;
    uint64_t since_ms;
    IdleList* list;
  };
  // Called for a connection idle for the whole timeout, once its node is gone.
  using OnTimeout = void (*)(void* owner, net::Connection& conn);

  // timeout_ms 0: connections wait without a deadline.
  IdleList(uint64_t timeout_ms, OnTimeout on_timeout, void* owner)
      : timeout_ms_(timeout_ms), on_timeout_(on_timeout), owner_(owner) {}
  IdleList(const IdleList&) = delete;
  IdleList& operator=(const IdleList&) = delete;

  Node* add(net::Connection& conn);
  void remove(Node* n);
  bool empty() const { return newest_ == nullptr; }

 private:
  static void onTimer(uv_timer_t* t);
  void arm(uint64_t now);

  static constexpr size_t kSlab = 128;
  const uint64_t timeout_ms_;
  const OnTimeout on_timeout_;
  void* const owner_;
  Node* newest_ = nullptr;
  Node* oldest_ = nullptr;
  Node* free_ = nullptr;
  std::vector<std::unique_ptr<Node[]>> slabs_;
  // Made with the first node (the loop is the first connection's); unreferenced, so that it
  // never keeps a loop alive by itself.
  core::UvHandle<uv_timer_t> timer_;
  bool timer_ready_ = false;
};

}  // namespace portd::handlers::http
