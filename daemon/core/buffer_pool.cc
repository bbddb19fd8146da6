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

char* BufferPool::allocate() {
  ++allocations_;
  return static_cast<char*>(::operator new(block_size_));
}

void BufferPool::drop(char* block) {
  ::operator delete(block);
  freed_bytes_ += block_size_;
}

}  // namespace portd::core
