#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace portd::core {

// Gives objects of one worker 64-bit ids that can be handed to code outside the daemon (the
// plugin ABI) and checked when they come back: the low half is a slot, the high half the
// slot's generation, bumped when the object goes away. A stale id therefore never finds the
// next object that reuses its slot. Slots are reused, so the table only grows to the largest
// number of objects alive at once; lookups are an index and a compare. Loop thread only.
template <typename T>
class HandleTable {
 public:
  uint64_t add(T* object) {
    uint32_t index;
    if (free_ != kNone) {
      index = free_;
      free_ = slots_[index].next_free;
    } else {
      index = static_cast<uint32_t>(slots_.size());
      slots_.push_back(Slot{});
    }
    Slot& s = slots_[index];
    s.object = object;
    return (static_cast<uint64_t>(s.generation) << 32) | (index + 1u);
  }

  T* get(uint64_t id) const {
    uint32_t index = static_cast<uint32_t>(id) - 1u;
    if (index >= slots_.size()) {
      return nullptr;
    }
    const Slot& s = slots_[index];
    return s.generation == static_cast<uint32_t>(id >> 32) ? s.object : nullptr;
  }

  void remove(uint64_t id) {
    uint32_t index = static_cast<uint32_t>(id) - 1u;
    if (index >= slots_.size() || slots_[index].generation != static_cast<uint32_t>(id >> 32)) {
      return;
    }
    Slot& s = slots_[index];
    s.object = nullptr;
    // Generation 0 is never handed out, so that id 0 (slot 0 - 1) stays invalid everywhere.
    if (++s.generation == 0) {
      s.generation = 1;
    }
    s.next_free = free_;
    free_ = index;
  }

  size_t size() const { return slots_.size(); }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  struct Slot {
    T* object = nullptr;
    uint32_t generation = 1;
    uint32_t next_free = kNone;
  };
  std::vector<Slot> slots_;
  uint32_t free_ = kNone;
};

}  // namespace portd::core
