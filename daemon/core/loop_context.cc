#include "core/loop_context.h"

namespace portd::core {

LoopContext::LoopContext(uv_loop_t* loop, int worker_id)
    : loop_(loop),
      worker_id_(worker_id),
      thread_(std::this_thread::get_id()),
      read_pool_(kReadBlock, 4),
      write_pool_(kWriteBlock, 256),
      timers_(loop) {
  current_ = this;
}

LoopContext::~LoopContext() {
  if (current_ == this) {
    current_ = nullptr;
  }
}

thread_local LoopContext* LoopContext::current_ = nullptr;

uv_write_t* LoopContext::acquireWriteRequest() {
  if (free_write_requests_.empty()) {
    return new uv_write_t{};
  }
  uv_write_t* req = free_write_requests_.back().release();
  free_write_requests_.pop_back();
  return req;
}

void LoopContext::releaseWriteRequest(uv_write_t* req) {
  // Enough for every connection that waits on a slow peer at once in a busy worker; beyond it
  // the memory goes back to malloc.
  constexpr size_t kKeep = 1024;
  std::unique_ptr<uv_write_t> owned(req);
  if (free_write_requests_.size() < kKeep) {
    free_write_requests_.push_back(std::move(owned));
  }
}

char* LoopContext::datagramBuffer() {
  if (!datagram_buffer_) {
    datagram_buffer_ = std::make_unique<char[]>(kDatagramSlot * kDatagramSlots);
  }
  return datagram_buffer_.get();
}

}  // namespace portd::core
