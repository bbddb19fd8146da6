// Keys and string values.

#include <charconv>
#include <chrono>

#include "handlers/resp/command_table.h"

namespace portd::handlers::resp::cmd {

namespace {

// Replaces a key's value with the string `value`, reusing the string's storage when it fits
// (redis-benchmark's SET overwrites one key), or turns a key of another type into a string.
// False (after writing the error) when a new key would pass max_keys.
bool storeString(Context& ctx, KeyRef& ref, std::string_view value, int64_t expire_ms,
                 bool keep_ttl, bool enforce_limit = true) {
  Entry* e = ref.find();
  if (e != nullptr && e->type != Type::kString) {
    ref.erase();
    e = nullptr;
  }
  if (e == nullptr) {
    KeyRef::Status status;
    e = ref.findOrCreate(Type::kString, &status, enforce_limit);
    if (e == nullptr) {
      statusError(ctx, status);
      return false;
    }
  }
  ref.charge(e, static_cast<int64_t>(value.size()) - static_cast<int64_t>(e->str.size()));
  e->str.assign(value.data(), value.size());
  if (!keep_ttl) {
    e->expire_ms = expire_ms;
  }
  return true;
}

int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void incrementBy(Context& ctx, std::string_view key, int64_t by) {
  KeyRef ref(ctx.store, key, ctx.clock);
  KeyRef::Status status;
  Entry* e = ref.findOrCreate(Type::kString, &status);
  if (e == nullptr) {
    statusError(ctx, status);
    return;
  }
  int64_t v = 0;
  if (!e->str.empty() && !parseInt64(e->str, &v)) {
    ctx.reply.error(kNotInteger);
    return;
  }
  if ((by > 0 && v > INT64_MAX - by) || (by < 0 && v < INT64_MIN - by)) {
    ctx.reply.error("ERR increment or decrement would overflow");
    return;
  }
  v += by;
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  const size_t n = static_cast<size_t>(end - buf);
  ref.charge(e, static_cast<int64_t>(n) - static_cast<int64_t>(e->str.size()));
  e->str.assign(buf, n);
  ctx.reply.integer(v);
}

}  // namespace

void get(Context& ctx, Args args) {
  KeyRef ref(ctx.store, args[1], ctx.clock);
  KeyRef::Status status;
  const Entry* e = ref.find(Type::kString, &status);
  if (status != KeyRef::Status::kOk) {
    statusError(ctx, status);
  } else if (e == nullptr) {
    ctx.reply.null();
  } else {
    ctx.reply.bulk(e->str);
  }
}

// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL], with Redis 7's errors.
void set(Context& ctx, Args args) {
  bool nx = false;
  bool xx = false;
  bool get_old = false;
  bool keep_ttl = false;
  bool have_expire = false;
  int64_t expire_ms = 0;
  for (size_t i = 3; i < args.size(); ++i) {
    const std::string_view a = args[i];
    const bool has_next = i + 1 < args.size();
    if (equalsLower(a, "nx") && !xx) {
      nx = true;
    } else if (equalsLower(a, "xx") && !nx) {
      xx = true;
    } else if (equalsLower(a, "get")) {
      get_old = true;
    } else if (equalsLower(a, "keepttl") && !have_expire) {
      keep_ttl = true;
    } else if ((equalsLower(a, "ex") || equalsLower(a, "px") || equalsLower(a, "exat") ||
                equalsLower(a, "pxat")) &&
               !keep_ttl && !have_expire && has_next) {
      int64_t v = 0;
      if (!parseInt64(args[i + 1], &v)) {
        ctx.reply.error(kNotInteger);
        return;
      }
      const bool seconds = equalsLower(a, "ex") || equalsLower(a, "exat");
      const bool absolute = equalsLower(a, "exat") || equalsLower(a, "pxat");
      if (v <= 0 || (seconds && v > INT64_MAX / 1000)) {
        ctx.reply.error("ERR invalid expire time in 'set' command");
        return;
      }
      int64_t ms = seconds ? v * 1000 : v;
      // An absolute time is of the wall clock; expiry runs on the steady one.
      const int64_t now = ctx.clock.nowMs();
      const int64_t rel = absolute ? ms - wallMs() : ms;
      if (rel > INT64_MAX - now) {
        ctx.reply.error("ERR invalid expire time in 'set' command");
        return;
      }
      // A time already past still sets the key, which is then gone: 1 ms after the clock's 0.
      expire_ms = rel <= 0 ? 1 : now + rel;
      have_expire = true;
      ++i;
    } else {
      ctx.reply.error(kSyntax);
      return;
    }
  }
  KeyRef ref(ctx.store, args[1], ctx.clock);
  const Entry* old = ref.find();
  if (get_old && old != nullptr && old->type != Type::kString) {
    ctx.reply.error(kWrongType);
    return;
  }
  const bool exists = old != nullptr;
  if ((nx && exists) || (xx && !exists)) {
    if (get_old && exists) {
      ctx.reply.bulk(old->str);
    } else {
      ctx.reply.null();
    }
    return;
  }
  if (get_old) {
    if (!exists && ctx.store.keysFull()) {
      ctx.reply.error(kOom);
      return;
    }
    // The old value is written before it is replaced, since the reply views it; the store
    // then cannot fail (another worker may have taken the last key meanwhile: one over).
    if (exists) {
      ctx.reply.bulk(old->str);
    } else {
      ctx.reply.null();
    }
    storeString(ctx, ref, args[2], expire_ms, keep_ttl, false);
    return;
  }
  if (storeString(ctx, ref, args[2], expire_ms, keep_ttl)) {
    ctx.reply.ok();
  }
}

void del(Context& ctx, Args args) {
  int64_t n = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    KeyRef ref(ctx.store, args[i], ctx.clock);
    if (ref.find() != nullptr && ref.erase()) {
      ++n;
    }
  }
  ctx.reply.integer(n);
}

void exists(Context& ctx, Args args) {
  int64_t n = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    KeyRef ref(ctx.store, args[i], ctx.clock);
    if (ref.find() != nullptr) {
      ++n;
    }
  }
  ctx.reply.integer(n);
}

void type(Context& ctx, Args args) {
  KeyRef ref(ctx.store, args[1], ctx.clock);
  const Entry* e = ref.find();
  static constexpr std::string_view kNames[] = {"string", "list", "set", "hash", "zset", "stream"};
  ctx.reply.simple(e == nullptr ? "none" : kNames[static_cast<int>(e->type)]);
}

void pttl(Context& ctx, Args args) {
  KeyRef ref(ctx.store, args[1], ctx.clock);
  const Entry* e = ref.find();
  if (e == nullptr) {
    ctx.reply.integer(-2);
  } else if (e->expire_ms == 0) {
    ctx.reply.integer(-1);
  } else {
    ctx.reply.integer(e->expire_ms - ctx.clock.nowMs());
  }
}

void ttl(Context& ctx, Args args) {
  KeyRef ref(ctx.store, args[1], ctx.clock);
  const Entry* e = ref.find();
  if (e == nullptr) {
    ctx.reply.integer(-2);
  } else if (e->expire_ms == 0) {
    ctx.reply.integer(-1);
  } else {
    ctx.reply.integer((e->expire_ms - ctx.clock.nowMs() + 500) / 1000);
  }
}

void incr(Context& ctx, Args args) { incrementBy(ctx, args[1], 1); }
void decr(Context& ctx, Args args) { incrementBy(ctx, args[1], -1); }

void incrby(Context& ctx, Args args) {
  int64_t by = 0;
  if (!parseInt64(args[2], &by)) {
    ctx.reply.error(kNotInteger);
    return;
  }
  incrementBy(ctx, args[1], by);
}

void decrby(Context& ctx, Args args) {
  int64_t by = 0;
  if (!parseInt64(args[2], &by) || by == INT64_MIN) {
    ctx.reply.error(by == INT64_MIN ? "ERR decrement would overflow" : kNotInteger);
    return;
  }
  incrementBy(ctx, args[1], -by);
}

void mset(Context& ctx, Args args) {
  if (args.size() % 2 == 0) {
    arityError(ctx, "mset");
    return;
  }
  // With a shared store each key is set under its own shard's lock: another connection may
  // see some of the keys set before the others.
  for (size_t i = 1; i < args.size(); i += 2) {
    KeyRef ref(ctx.store, args[i], ctx.clock);
    if (!storeString(ctx, ref, args[i + 1], 0, false)) {
      return;
    }
  }
  ctx.reply.ok();
}

void mget(Context& ctx, Args args) {
  ctx.reply.array(args.size() - 1);
  for (size_t i = 1; i < args.size(); ++i) {
    KeyRef ref(ctx.store, args[i], ctx.clock);
    const Entry* e = ref.find();
    if (e == nullptr || e->type != Type::kString) {
      ctx.reply.null();
    } else {
      ctx.reply.bulk(e->str);
    }
  }
}

}  // namespace portd::handlers::resp::cmd
