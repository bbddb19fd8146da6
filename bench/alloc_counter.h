#pragma once

#include <cstdint>

namespace portd::bench {

// Heap allocations made by this process so far: every C++ operator new, and every allocation
// libuv makes once countLibuvAllocations() has run. Any thread may call it.
//
// The buffer pools count only their own blocks; this counter also sees what the pools cannot,
// such as a std::deque growing inside an OutputQueue or libuv copying a uv_write() buffer array,
// so that "no heap allocation per request" is checked for the whole path.
uint64_t heapAllocations();

// Routes libuv's malloc/calloc/realloc through the counter. libuv accepts a new allocator only
// before it has allocated anything, so main() calls this first.
void countLibuvAllocations();

}  // namespace portd::bench
