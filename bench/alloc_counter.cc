#include "alloc_counter.h"

#include <uv.h>

#include <atomic>
#include <cstdlib>
#include <new>

namespace {

// Relaxed: the count is read between benchmark iterations on the same thread, and a stray
// allocation on another thread (there is none in these benchmarks) only needs to be counted.
std::atomic<uint64_t> g_allocations{0};

void* countedMalloc(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size);
}

void* countedCalloc(size_t count, size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::calloc(count, size);
}

void* countedRealloc(void* ptr, size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::realloc(ptr, size);
}

}  // namespace

namespace portd::bench {

uint64_t heapAllocations() { return g_allocations.load(std::memory_order_relaxed); }

void countLibuvAllocations() {
  uv_replace_allocator(&countedMalloc, &countedRealloc, &countedCalloc, &std::free);
}

}  // namespace portd::bench

// The replaceable global allocation functions. libstdc++'s array and nothrow forms call these,
// so replacing the plain pair counts every non-aligned C++ allocation in the process.
void* operator new(std::size_t size) {
  void* p = countedMalloc(size == 0 ? 1 : size);
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  return p;
}

void operator delete(void* p) noexcept { std::free(p); }

void operator delete(void* p, std::size_t /*size*/) noexcept { std::free(p); }
