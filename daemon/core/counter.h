#pragma once

#include <atomic>
#include <cstdint>

namespace portd::core {

// A counter with one writer (its worker thread) and any number of readers (a metrics scrape
// on another thread). The writer does a relaxed load and store, a plain `add` on x86 with no
// lock prefix; readers see a value that is at worst a moment old, never torn.
class Counter {
 public:
  void add(uint64_t n) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  Counter& operator++() {
    add(1);
    return *this;
  }
  Counter& operator+=(uint64_t n) {
    add(n);
    return *this;
  }
  uint64_t load() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

}  // namespace portd::core
