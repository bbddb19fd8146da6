#include "core/mailbox.h"

#include <stdexcept>

namespace portd::core {

Mailbox::Mailbox(uv_loop_t* loop) {
  int rc = uv_async_init(loop, async_.get(), &Mailbox::onAsync);
  if (rc != 0) {
    throw std::runtime_error(std::string("uv_async_init: ") + uv_strerror(rc));
  }
  async_->data = this;
}

Mailbox::~Mailbox() { close(); }

bool Mailbox::post(std::function<void()> fn) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (closed_) {
      return false;
    }
    wake = queue_.empty();
    queue_.push_back(std::move(fn));
    // uv_async_send() under the lock: close() takes the lock too, so the handle cannot be closed
    // between our check of closed_ and the send.
    if (wake) {
      uv_async_send(async_.get());
    }
  }
  return true;
}

void Mailbox::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    queue_.clear();
    async_.reset();
  }
}

void Mailbox::onAsync(uv_async_t* async) {
  if (auto* self = static_cast<Mailbox*>(async->data)) {
    self->drain();
  }
}

void Mailbox::drain() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(queue_);
  }
  for (auto& fn : batch) {
    fn();
    // A message may close the mailbox (the worker's stop message does); the rest are dropped.
    std::lock_guard lock(mutex_);
    if (closed_) {
      return;
    }
  }
}

}  // namespace portd::core
