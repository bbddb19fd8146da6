#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>
#include <vector>

namespace portd::core {

// A free list of fixed-size blocks, one pool per worker (so no lock). Blocks released to the
// pool are reused by the next acquire(): after warm-up, reading and queueing output allocate
// nothing. At most `max_cached` idle blocks are kept; beyond that, released blocks are freed so
// that a burst does not pin memory forever.
class BufferPool {
 public:
  BufferPool(size_t block_size, size_t max_cached);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // Inline: every read takes a block and gives it back.
  char* acquire() {
    ++outstanding_;
    if (!free_.empty()) {
      char* block = free_.back();
      free_.pop_back();
      return block;
    }
    return allocate();
  }
  void release(char* block) {
    --outstanding_;
    if (free_.size() < max_cached_) {
      free_.push_back(block);
    } else {
      drop(block);
    }
  }

  size_t blockSize() const { return block_size_; }
  size_t cached() const { return free_.size(); }
  // Blocks handed out and not yet released.
  size_t outstanding() const { return outstanding_; }
  // Total blocks ever allocated from the system (to verify reuse in tests and benchmarks).
  uint64_t allocations() const { return allocations_; }
  // Frees idle blocks beyond `keep` (after a burst, so that its memory can go back to the
  // system).
  void trim(size_t keep) {
    while (free_.size() > keep) {
      ::operator delete(free_.back());
      free_.pop_back();
      freed_bytes_ += block_size_;
    }
  }
  // Bytes given back to the allocator since the last call (blocks freed beyond max_cached).
  uint64_t takeFreedBytes() { return std::exchange(freed_bytes_, 0); }

 private:
  char* allocate();
  void drop(char* block);

  size_t block_size_;
  size_t max_cached_;
  std::vector<char*> free_;
  size_t outstanding_ = 0;
  uint64_t allocations_ = 0;
  uint64_t freed_bytes_ = 0;
};

}  // namespace portd::core
