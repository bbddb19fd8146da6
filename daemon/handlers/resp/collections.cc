// Sets, hashes and sorted sets.

#include <charconv>
#include <cmath>
#include <cstdio>

#include "handlers/resp/command_table.h"

namespace portd::handlers::resp::cmd {

namespace {

constexpr std::string_view kOutOfRange = "ERR value is out of range, must be positive";

// Redis's score syntax: a number as strtod reads it, or [+-]inf; NaN is refused.
bool parseScore(std::string_view s, double* out) {
  if (equalsLower(s, "inf") || equalsLower(s, "+inf")) {
    *out = INFINITY;
    return true;
  }
  if (equalsLower(s, "-inf")) {
    *out = -INFINITY;
    return true;
  }
  if (!s.empty() && s[0] == '+') {
    s.remove_prefix(1);
  }
  if (s.empty()) {
    return false;
  }
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc{} && end == s.data() + s.size() && !std::isnan(*out);
}

// A score as Redis 7.0 writes it over RESP2: "%.17g", or inf/-inf.
void replyScore(Context& ctx, double d) {
  if (std::isinf(d)) {
    ctx.reply.bulk(d > 0 ? "inf" : "-inf");
    return;
  }
  char buf[32];
  const int n = std::snprintf(buf, sizeof(buf), "%.17g", d);
  ctx.reply.bulk(std::string_view(buf, static_cast<size_t>(n)));
}

// Reads the optional count of SPOP and ZPOPMIN: -1 without one.
bool popCount(Context& ctx, Args args, std::string_view name, int64_t* count) {
  *count = -1;
  if (args.size() > 3) {
    arityError(ctx, name);
    return false;
  }
  if (args.size() == 3 && (!parseInt64(args[2], count) || *count < 0)) {
    ctx.reply.error(kOutOfRange);
    return false;
  }
  return true;
}

}  // namespace

void sadd(Context& ctx, Args args) {
  KeyRef ref(ctx.store, args[1], ctx.clock);
  KeyRef::Status status;
  Entry* e = ref.findOrCreate(Type::kSet, &status);
  if (e == nullptr) {
    statusError(ctx, status);
    return;
  }
  StringSet& set = e->as<StringSet>();
  int64_t added = 0;
  int64_t bytes = 0;
  for (size_t i = 2; i < args.size(); ++i) {
    if (set.find(args[i]) == set.end()) {
      set.emplace(args[i]);
      ++added;
      bytes += static_cast<int64_t>(kElementOverhead + args[i].size());
    }
  }
  ref.charge(e, bytes);
  ctx.reply.integer(added);
}

void spop(Context& ctx, Args args) {
  int64_t count = -1;
  if (!popCount(ctx, args, "spop", &count)) {
    return;
  }
  KeyRef ref(ctx.store, args[1], ctx.clock);
  KeyRef::Status status;
  Entry* e = ref.find(Type::kSet, &status);
  if (status != KeyRef::Status::kOk) {
    statusError(ctx, status);
    return;
  }
  if (e == nullptr) {
    if (count < 0) {
      ctx.reply.null();
    } else {
      ctx.reply.emptyArray();
    }
    return;
  }
  StringSet& set = e->as<StringSet>();
  const size_t n = count < 0 ? 1 : std::min(set.size(), static_cast<size_t>(count));
  if (count >= 0) {
    ctx.reply.array(n);
  }
  int64_t bytes = 0;
  // The member the hash table holds first: arbitrary, as Redis's random pick is to a client.
  for (size_t i = 0; i < n; ++i) {
    auto it = set.begin();
    ctx.reply.bulk(*it);
    bytes += static_cast<int64_t>(kElementOverhead + it->size());
    set.erase(it);
  }
  ref.charge(e, -bytes);
  ref.eraseIfEmpty(e);
}

void scard(Context& ctx, Args args) {
  KeyRef ref(ctx.store, args[1], ctx.clock);
  KeyRef::Status status;
  Entry* e = ref.find(Type::kSet, &status);
  if (status != KeyRef::Status::kOk) {
    statusError(ctx, status);
  } else {
    ctx.reply.integer(e == nullptr ? 0 : static_cast<int64_t>(e->as<StringSet>().size()));
  }
}

void hset(Context& ctx, Args args) {
  if (args.size() % 2 != 0) {
    arityError(ctx, "hset");
    return;
  }
  KeyRef ref(ctx.store, args[1], ctx.clock);
  KeyRef::Status status;
  Entry* e = ref.findOrCreate(Type::kHash, &status);
  if (e == nullptr) {
    statusError(ctx, status);
    return;
  }
  StringMap& hash = e->as<StringMap>();
  int64_t added = 0;
  int64_t bytes = 0;
  for (size_t i = 2; i < args.size(); i += 2) {
    auto it = hash.find(args[i]);
    if (it == hash.end()) {
      hash.emplace(args[i], args[i + 1]);
      ++added;
      bytes += static_cast<int64_t>(kElementOverhead + args[i].size() + args[i + 1].size());
    } else {
      bytes += static_cast<int64_t>(args[i + 1].size()) - static_cast<int64_t>(it->second.size());
      it->second.assign(args[i + 1].data(), args[i + 1].size());
    }
  }
  ref.charge(e, bytes);
  ctx.reply.integer(added);
}

void hget(Context& ctx, Args args) {
  KeyRef ref(ctx.store, args[1], ctx.clock);
  KeyRef::Status status;
  Entry* e = ref.find(Type::kHash, &status);
  if (status != KeyRef::Status::kOk) {
    statusError(ctx, status);
    return;
  }
  if (e != nullptr) {
    const StringMap& hash = e->as<StringMap>();
    auto it = hash.find(args[2]);
    if (it != hash.end()) {
      ctx.reply.bulk(it->second);
      return;
    }
  }
  ctx.reply.null();
}

void hlen(Context& ctx, Args args) {
  KeyRef ref(ctx.store, args[1], ctx.clock);
  KeyRef::Status status;
  Entry* e = ref.find(Type::kHash, &status);
  if (status != KeyRef::Status::kOk) {
    statusError(ctx, status);
  } else {
    ctx.reply.integer(e == nullptr ? 0 : static_cast<int64_t>(e->as<StringMap>().size()));
  }
}

// ZADD key [NX|XX] [GT|LT] [CH] score member [score member ...]
void zadd(Context& ctx, Args args) {
  bool nx = false;
  bool xx = false;
  bool gt = false;
  bool lt = false;
  bool ch = false;
  size_t i = 2;
  for (; i < args.size(); ++i) {
    if (equalsLower(args[i], "nx")) {
      nx = true;
    } else if (equalsLower(args[i], "xx")) {
      xx = true;
    } else if (equalsLower(args[i], "gt")) {
      gt = true;
    } else if (equalsLower(args[i], "lt")) {
      lt = true;
    } else if (equalsLower(args[i], "ch")) {
      ch = true;
    } else {
      break;
    }
  }
  const size_t pairs_at = i;
  if (pairs_at == args.size() || (args.size() - pairs_at) % 2 != 0) {
    ctx.reply.error(kSyntax);
    return;
  }
  if (nx && xx) {
    ctx.reply.error("ERR XX and NX options at the same time are not compatible");
    return;
  }
  if ((gt && nx) || (lt && nx) || (gt && lt)) {
    ctx.reply.error("ERR GT, LT, and/or NX options at the same time are not compatible");
    return;
  }
  // Every score is checked before anything changes, as Redis does.
  for (size_t j = pairs_at; j < args.size(); j += 2) {
    double score = 0;
    if (!parseScore(args[j], &score)) {
      ctx.reply.error(kNotFloat);
      return;
    }
  }
  KeyRef ref(ctx.store, args[1], ctx.clock);
  KeyRef::Status status;
  Entry* e = xx ? ref.find(Type::kZSet, &status) : ref.findOrCreate(Type::kZSet, &status);
  if (status != KeyRef::Status::kOk) {
    statusError(ctx, status);
    return;
  }
  if (e == nullptr) {
    ctx.reply.integer(0);
    return;
  }
  ZSet& z = e->as<ZSet>();
  int64_t added = 0;
  int64_t changed = 0;
  int64_t bytes = 0;
  for (size_t j = pairs_at; j < args.size(); j += 2) {
    double score = 0;
    parseScore(args[j], &score);
    const std::string_view member = args[j + 1];
    auto it = z.scores.find(member);
    if (it == z.scores.end()) {
      if (xx) {
        continue;
      }
      z.scores.emplace(member, score);
      z.by_score.emplace(score, member);
      ++added;
      bytes += static_cast<int64_t>(2 * (kElementOverhead + member.size()));
    } else if (!nx && it->second != score && !(gt && score <= it->second) &&
               !(lt && score >= it->second)) {
      auto node = z.by_score.extract({it->second, std::string(member)});
      node.value().first = score;
      z.by_score.insert(std::move(node));
      it->second = score;
      ++changed;
    }
  }
  ref.charge(e, bytes);
  ref.eraseIfEmpty(e);
  ctx.reply.integer(ch ? added + changed : added);
}

void zpopmin(Context& ctx, Args args) {
  int64_t count = -1;
  if (!popCount(ctx, args, "zpopmin", &count)) {
    return;
  }
  KeyRef ref(ctx.store, args[1], ctx.clock);
  KeyRef::Status status;
  Entry* e = ref.find(Type::kZSet, &status);
  if (status != KeyRef::Status::kOk) {
    statusError(ctx, status);
    return;
  }
  if (e == nullptr) {
    ctx.reply.emptyArray();
    return;
  }
  ZSet& z = e->as<ZSet>();
  const size_t n = std::min(z.by_score.size(), count < 0 ? size_t{1} : static_cast<size_t>(count));
  ctx.reply.array(2 * n);
  int64_t bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    auto it = z.by_score.begin();
    ctx.reply.bulk(it->second);
    replyScore(ctx, it->first);
    bytes += static_cast<int64_t>(2 * (kElementOverhead + it->second.size()));
    z.scores.erase(z.scores.find(it->second));
    z.by_score.erase(it);
  }
  ref.charge(e, -bytes);
  ref.eraseIfEmpty(e);
}

void zcard(Context& ctx, Args args) {
  KeyRef ref(ctx.store, args[1], ctx.clock);
  KeyRef::Status status;
  Entry* e = ref.find(Type::kZSet, &status);
  if (status != KeyRef::Status::kOk) {
    statusError(ctx, status);
  } else {
    ctx.reply.integer(e == nullptr ? 0 : static_cast<int64_t>(e->as<ZSet>().scores.size()));
  }
}

}  // namespace portd::handlers::resp::cmd
