#include "core/buffer_pool.h"

#include <new>

namespace portd::core {

BufferPool::BufferPool(size_t block_size, size_t max_cached)
    : block_size_(block_size), max_cached_(max_cached) {
  free_.reserve(max_cached);
}

BufferPool::~BufferPool() {
  for (char* block : free_) {
    ::operator delete(block);
  }
}

char* BufferPool::acquire() {
  ++outstanding_;
  if (!free_.empty()) {
    char* block = free_.back();
    free_.pop_back();
    return block;
  }
  ++allocations_;
  return static_cast<char*>(::operator new(block_size_));
}

void BufferPool::release(char* block) {
  --outstanding_;
  if (free_.size() < max_cached_) {
    free_.push_back(block);
  } else {
    ::operator delete(block);
    freed_bytes_ += block_size_;
  }
}

}  // namespace portd::core
