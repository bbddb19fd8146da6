#include "handlers/resp/store.h"

#include <chrono>

namespace portd::handlers::resp {

int64_t Clock::nowMs() {
  if (ms_ < 0) {
    ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::steady_clock::now().time_since_epoch())
              .count();
  }
  return ms_;
}

Store::Store(size_t shards, bool locking, const Limits& limits)
    : shards_(shards == 0 ? 1 : shards), locking_(locking), limits_(limits) {}

void Store::clear() {
  for (Shard& s : shards_) {
    std::unique_lock<std::mutex> lock(s.mu, std::defer_lock);
    if (locking_) {
      lock.lock();
    }
    uint64_t bytes = 0;
    for (const auto& [key, entry] : s.map) {
      bytes += entry.cost;
    }
    const uint64_t n = s.map.size();
    Store::Map().swap(s.map);
    used_.fetch_sub(bytes, std::memory_order_relaxed);
    keys_.fetch_sub(n, std::memory_order_relaxed);
  }
}

KeyRef::KeyRef(Store& store, std::string_view key, Clock& clock)
    : store_(store),
      shard_(store.shardFor(key)),
      lock_(shard_.mu, std::defer_lock),
      key_(key),
      clock_(clock) {
  if (store.locking()) {
    lock_.lock();
  }
}

Entry* KeyRef::find() {
  if (!looked_up_) {
    it_ = shard_.map.find(key_);
    looked_up_ = true;
  }
  if (it_ == shard_.map.end()) {
    return nullptr;
  }
  Entry& e = it_->second;
  if (e.expire_ms != 0 && e.expire_ms <= clock_.nowMs()) {
    erase();
    return nullptr;
  }
  return &e;
}

Entry* KeyRef::find(Type type, Status* status) {
  Entry* e = find();
  if (e != nullptr && e->type != type) {
    *status = Status::kWrongType;
    return nullptr;
  }
  *status = Status::kOk;
  return e;
}

Entry* KeyRef::findOrCreate(Type type, Status* status, bool enforce_limit) {
  Entry* e = find();
  if (e != nullptr) {
    *status = e->type == type ? Status::kOk : Status::kWrongType;
    return e->type == type ? e : nullptr;
  }
  if (enforce_limit && store_.keysFull()) {
    *status = Status::kOom;
    return nullptr;
  }
  it_ = shard_.map.try_emplace(std::string(key_)).first;
  Entry& created = it_->second;
  created.type = type;
  switch (type) {
    case Type::kString:
      break;
    case Type::kList:
      created.agg = std::make_unique<std::variant<List, StringSet, StringMap, ZSet, Stream>>(
          std::in_place_type<List>);
      break;
    case Type::kSet:
      created.agg = std::make_unique<std::variant<List, StringSet, StringMap, ZSet, Stream>>(
          std::in_place_type<StringSet>);
      break;
    case Type::kHash:
      created.agg = std::make_unique<std::variant<List, StringSet, StringMap, ZSet, Stream>>(
          std::in_place_type<StringMap>);
      break;
    case Type::kZSet:
      created.agg = std::make_unique<std::variant<List, StringSet, StringMap, ZSet, Stream>>(
          std::in_place_type<ZSet>);
      break;
    case Type::kStream:
      created.agg = std::make_unique<std::variant<List, StringSet, StringMap, ZSet, Stream>>(
          std::in_place_type<Stream>);
      break;
  }
  store_.countKeys(1);
  charge(&created, static_cast<int64_t>(kKeyOverhead + key_.size()));
  *status = Status::kOk;
  return &created;
}

bool KeyRef::erase() {
  if (!looked_up_) {
    it_ = shard_.map.find(key_);
    looked_up_ = true;
  }
  if (it_ == shard_.map.end()) {
    return false;
  }
  store_.charge(-static_cast<int64_t>(it_->second.cost));
  store_.countKeys(-1);
  shard_.map.erase(it_);
  it_ = shard_.map.end();
  return true;
}

void KeyRef::eraseIfEmpty(Entry* e) {
  const bool empty = std::visit(
      [](const auto& c) {
        if constexpr (std::is_same_v<std::decay_t<decltype(c)>, ZSet>) {
          return c.scores.empty();
        } else if constexpr (std::is_same_v<std::decay_t<decltype(c)>, Stream>) {
          return false;  // an empty stream stays, as in Redis
        } else {
          return c.empty();
        }
      },
      *e->agg);
  if (empty) {
    erase();
  }
}

}  // namespace portd::handlers::resp
