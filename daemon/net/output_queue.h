#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <string_view>
#include <vector>

#include "core/buffer_pool.h"

namespace portd::net {

// Bytes accepted for a connection but not yet taken by the kernel, kept in blocks from the
// worker's write pool. Only output the kernel did not take at once lands here.
class OutputQueue {
 public:
  explicit OutputQueue(core::BufferPool& pool) : pool_(pool) {}
  ~OutputQueue() { clear(); }
  OutputQueue(const OutputQueue&) = delete;
  OutputQueue& operator=(const OutputQueue&) = delete;

  void append(std::string_view data);
  // Queues `data` by reference, without copying it: for bytes that outlive the queue (static,
  // read-only storage shared by every connection, such as generated filler). A large body so
  // costs a few bytes of bookkeeping per connection instead of its size.
  void appendReferenced(std::string_view data);
  // Fills at most `max` buffers with the oldest queued bytes (for one writev()); returns how
  // many were filled.
  unsigned peek(iovec* bufs, unsigned max) const;
  // Drops the oldest `n` bytes (they were written).
  void consume(size_t n);
  void clear();

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  struct Block {
    char* data;
    size_t begin;
    size_t end;
    bool owned;  // from the pool (and returned to it), or referenced
  };
  core::BufferPool& pool_;
  // A vector read from head_ rather than a std::deque: an empty deque already holds a 512-byte
  // node and its map, which every idle connection would carry. An empty vector holds nothing.
  std::vector<Block> blocks_;
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace portd::net
