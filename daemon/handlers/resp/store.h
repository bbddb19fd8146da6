#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

namespace portd::handlers::resp {

// Lookups by string_view without building a std::string (C++20 heterogeneous lookup).
struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using StringSet = std::unordered_set<std::string, KeyHash, std::equal_to<>>;
using StringMap = std::unordered_map<std::string, std::string, KeyHash, std::equal_to<>>;

struct ZSet {
  std::set<std::pair<double, std::string>> by_score;
  std::unordered_map<std::string, double, KeyHash, std::equal_to<>> scores;
};

struct StreamEntry {
  uint64_t ms = 0;
  uint64_t seq = 0;
  std::vector<std::string> fields;  // field, value, field, value...
};
struct Stream {
  std::deque<StreamEntry> entries;
  uint64_t last_ms = 0;
  uint64_t last_seq = 0;
};

using List = std::deque<std::string>;

enum class Type : uint8_t { kString, kList, kSet, kHash, kZSet, kStream };

struct Entry {
  Type type = Type::kString;
  int64_t expire_ms = 0;  // a steady-clock time in ms; 0: none
  uint64_t cost = 0;      // what this key counts toward max_memory, key and overhead included
  std::string str;        // kString
  // The other types; one allocation per collection, none for strings.
  std::unique_ptr<std::variant<List, StringSet, StringMap, ZSet, Stream>> agg;

  template <typename T>
  T& as() {
    return std::get<T>(*agg);
  }
};

// What a key and its elements are charged toward max_memory: their bytes and a rough figure
// for the allocator's and the containers' overhead, so that many small values cannot hide.
inline constexpr uint64_t kKeyOverhead = 64;
inline constexpr uint64_t kElementOverhead = 32;

// The milliseconds of std::chrono::steady_clock, read at most once per command and only by
// commands that need it (an expiry set or looked at). Tests set it.
class Clock {
 public:
  int64_t nowMs();
  void set(int64_t ms) { ms_ = ms; }
  void reset() { ms_ = -1; }

 private:
  int64_t ms_ = -1;
};

// The keys: one map per shard. A worker's own store has one shard and no locking; a store
// shared by all workers of a listener has several, each with a mutex held for one key's work.
// The totals that max_keys and max_memory bound are relaxed atomics, touched only when a key
// is added or removed or its size changes.
class Store {
 public:
  struct Limits {
    uint64_t max_keys = 0;
    uint64_t max_memory = 0;
  };
  using Map = std::unordered_map<std::string, Entry, KeyHash, std::equal_to<>>;
  struct Shard {
    std::mutex mu;
    Map map;
  };

  Store(size_t shards, bool locking, const Limits& limits);

  Shard& shardFor(std::string_view key) {
    return shards_.size() == 1 ? shards_[0] : shards_[KeyHash{}(key) % shards_.size()];
  }
  size_t shardCount() const { return shards_.size(); }
  Shard& shard(size_t i) { return shards_[i]; }
  bool locking() const { return locking_; }

  bool memoryFull() const { return used_.load(std::memory_order_relaxed) >= limits_.max_memory; }
  bool keysFull() const { return keys_.load(std::memory_order_relaxed) >= limits_.max_keys; }
  uint64_t keys() const { return keys_.load(std::memory_order_relaxed); }
  uint64_t usedMemory() const { return used_.load(std::memory_order_relaxed); }
  const Limits& limits() const { return limits_; }

  void charge(int64_t bytes) {
    if (bytes != 0) {
      used_.fetch_add(static_cast<uint64_t>(bytes), std::memory_order_relaxed);
    }
  }
  void countKeys(int64_t n) {
    keys_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
  }

  // Removes every key (FLUSHALL).
  void clear();

 private:
  std::vector<Shard> shards_;
  bool locking_;
  Limits limits_;
  std::atomic<uint64_t> keys_{0};
  std::atomic<uint64_t> used_{0};
};

// One key of a store, its shard locked (when the store is shared) for this object's life.
class KeyRef {
 public:
  enum class Status { kOk, kWrongType, kOom };

  KeyRef(Store& store, std::string_view key, Clock& clock);
  KeyRef(const KeyRef&) = delete;
  KeyRef& operator=(const KeyRef&) = delete;

  // The live entry, or nullptr; an expired one is removed here (expiry is lazy, as Redis's is
  // when a key is touched).
  Entry* find();
  // find(), and nullptr with kWrongType when the entry is of another type.
  Entry* find(Type type, Status* status);
  // The entry, created empty as `type` when missing: nullptr with kWrongType, or kOom when a
  // new key would pass max_keys (unless `enforce_limit` is false).
  Entry* findOrCreate(Type type, Status* status, bool enforce_limit = true);
  // Removes the key if it exists; true when it did.
  bool erase();
  // Counts `delta` bytes more (or fewer) for the entry.
  void charge(Entry* e, int64_t delta) {
    e->cost = static_cast<uint64_t>(static_cast<int64_t>(e->cost) + delta);
    store_.charge(delta);
  }
  // Removes the entry if its collection became empty, as Redis does.
  void eraseIfEmpty(Entry* e);
  Clock& clock() { return clock_; }

 private:
  Store& store_;
  Store::Shard& shard_;
  std::unique_lock<std::mutex> lock_;
  std::string_view key_;
  Clock& clock_;
  Store::Map::iterator it_;
  bool looked_up_ = false;
};

}  // namespace portd::handlers::resp
