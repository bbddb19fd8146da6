#include "core/loop_context.h"

namespace portd::core {

LoopContext::LoopContext(uv_loop_t* loop, int worker_id, IoPoller::Mode mode)
    : loop_(loop),
      worker_id_(worker_id),
      thread_(std::this_thread::get_id()),
      read_pool_(kReadBlock, 4),
      write_pool_(kWriteBlock, 256),
      timers_(loop),
      poller_(loop, mode) {
  current_ = this;
}

LoopContext::~LoopContext() {
  if (current_ == this) {
    current_ = nullptr;
  }
}

thread_local LoopContext* LoopContext::current_ = nullptr;

char* LoopContext::datagramBuffer() {
  if (!datagram_buffer_) {
    datagram_buffer_ = std::make_unique<char[]>(kDatagramSlot * kDatagramSlots);
  }
  return datagram_buffer_.get();
}

}  // namespace portd::core
