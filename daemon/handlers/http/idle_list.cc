#include "handlers/http/idle_list.h"

#include "core/loop_context.h"
#include "net/connection.h"

namespace portd::handlers::http {

IdleList::Node* IdleList::add(net::Connection& conn) {
  if (free_ == nullptr) {
    // Nodes come in slabs, never one malloc each: a connection that goes idle after every
    // request allocates nothing in steady state.
    slabs_.push_back(std::make_unique<Node[]>(kSlab));
    Node* slab = slabs_.back().get();
    for (size_t i = 0; i < kSlab; ++i) {
      slab[i].older = free_;
      free_ = &slab[i];
    }
  }
  Node* n = free_;
  free_ = n->older;
  uv_loop_t* loop = conn.context().loop();
  *n = Node{&conn, nullptr, newest_, uv_now(loop), this};
  if (newest_ != nullptr) {
    newest_->newer = n;
  } else {
    oldest_ = n;
  }
  newest_ = n;
  if (timeout_ms_ != 0) {
    if (!timer_ready_) {
      uv_timer_init(loop, timer_.get());
      timer_->data = this;
      uv_unref(timer_.handle());
      timer_ready_ = true;
    }
    if (!uv_is_active(timer_.handle())) {
      arm(n->since_ms);
    }
  }
  return n;
}

void IdleList::remove(Node* n) {
  if (n->newer != nullptr) {
    n->newer->older = n->older;
  } else {
    newest_ = n->older;
  }
  if (n->older != nullptr) {
    n->older->newer = n->newer;
  } else {
    oldest_ = n->newer;
  }
  n->conn = nullptr;
  n->newer = nullptr;
  n->older = free_;
  free_ = n;
}

void IdleList::arm(uint64_t now) {
  // Not re-armed when a connection leaves the list: the timer fires for a node that may be
  // gone, finds the oldest still idle and re-arms for it.
  const uint64_t due = oldest_->since_ms + timeout_ms_;
  uv_timer_start(timer_.get(), &onTimer, due > now ? due - now : 0, 0);
}

void IdleList::onTimer(uv_timer_t* t) {
  auto* self = static_cast<IdleList*>(t->data);
  if (self == nullptr) {
    return;
  }
  const uint64_t now = uv_now(t->loop);
  while (self->oldest_ != nullptr && now - self->oldest_->since_ms >= self->timeout_ms_) {
    net::Connection* conn = self->oldest_->conn;
    self->remove(self->oldest_);
    self->on_timeout_(self->owner_, *conn);
  }
  if (self->oldest_ != nullptr) {
    self->arm(now);
  }
}

}  // namespace portd::handlers::http
