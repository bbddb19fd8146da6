#include "handlers/resp/command_table.h"

#include <array>
#include <cstring>

namespace portd::handlers::resp {

namespace {

using Fn = void (*)(Context&, Args);

struct Spec {
  std::string_view name;  // lower case
  Fn fn;
  // As Redis counts it, the name included: N exactly N arguments, -N at least N.
  int arity;
  // Refused with -OOM while the store is at max_memory (Redis's "denyoom" flag).
  bool denyoom;
};

constexpr Spec kCommands[] = {
    {"ping", cmd::ping, -1, false},        {"echo", cmd::echo, 2, false},
    {"quit", cmd::quit, -1, false},        {"select", cmd::select, 2, false},
    {"hello", cmd::hello, -1, false},      {"command", cmd::command, -1, false},
    {"config", cmd::config, -2, false},    {"info", cmd::info, -1, false},
    {"dbsize", cmd::dbsize, 1, false},     {"flushall", cmd::flushall, -1, false},
    {"flushdb", cmd::flushall, -1, false}, {"get", cmd::get, 2, false},
    {"set", cmd::set, -3, true},           {"del", cmd::del, -2, false},
    {"exists", cmd::exists, -2, false},    {"type", cmd::type, 2, false},
    {"ttl", cmd::ttl, 2, false},           {"pttl", cmd::pttl, 2, false},
    {"incr", cmd::incr, 2, true},          {"decr", cmd::decr, 2, true},
    {"incrby", cmd::incrby, 3, true},      {"decrby", cmd::decrby, 3, true},
    {"mset", cmd::mset, -3, true},         {"mget", cmd::mget, -2, false},
    {"lpush", cmd::lpush, -3, true},       {"rpush", cmd::rpush, -3, true},
    {"lpop", cmd::lpop, -2, false},        {"rpop", cmd::rpop, -2, false},
    {"lrange", cmd::lrange, 4, false},     {"llen", cmd::llen, 2, false},
    {"sadd", cmd::sadd, -3, true},         {"spop", cmd::spop, -2, false},
    {"scard", cmd::scard, 2, false},       {"hset", cmd::hset, -4, true},
    {"hget", cmd::hget, 3, false},         {"hlen", cmd::hlen, 2, false},
    {"zadd", cmd::zadd, -4, true},         {"zpopmin", cmd::zpopmin, -2, false},
    {"zcard", cmd::zcard, 2, false},       {"xadd", cmd::xadd, -5, true},
    {"xlen", cmd::xlen, 2, false},
};

constexpr size_t kMaxName = 16;

uint32_t nameHash(std::string_view lower) {
  uint32_t h = 2166136261u;
  for (char c : lower) {
    h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  }
  return h;
}

// An open-addressing table of the commands by their lower-case name, built once: a lookup is
// a hash of a few bytes and one or two comparisons, whatever the number of commands.
class Index {
 public:
  Index() {
    for (const Spec& s : kCommands) {
      size_t i = nameHash(s.name) & (kSlots - 1);
      while (slots_[i] != nullptr) {
        i = (i + 1) & (kSlots - 1);
      }
      slots_[i] = &s;
    }
  }
  const Spec* find(std::string_view lower) const {
    size_t i = nameHash(lower) & (kSlots - 1);
    while (slots_[i] != nullptr) {
      if (slots_[i]->name == lower) {
        return slots_[i];
      }
      i = (i + 1) & (kSlots - 1);
    }
    return nullptr;
  }

 private:
  static constexpr size_t kSlots = 128;
  static_assert(std::size(kCommands) * 2 <= kSlots);
  std::array<const Spec*, kSlots> slots_{};
};

const Index& index() {
  static const Index idx;
  return idx;
}

// Redis 7: "ERR unknown command 'foo', with args beginning with: 'a' 'b' ", each part cut to
// 128 bytes and the arguments listed until 128 bytes of them were written.
void unknownCommand(Context& ctx, Args args) {
  Reply& r = ctx.reply;
  r.beginError();
  r.appendSanitized("ERR unknown command '");
  r.appendSanitized(args[0].substr(0, 128));
  r.appendSanitized("', with args beginning with: ");
  size_t listed = 0;
  for (size_t i = 1; i < args.size() && listed < 128; ++i) {
    const std::string_view a = args[i].substr(0, 128 - listed);
    r.appendSanitized("'");
    r.appendSanitized(a);
    r.appendSanitized("' ");
    listed += a.size() + 3;
  }
  r.endError();
}

}  // namespace

namespace cmd {

void statusError(Context& ctx, KeyRef::Status status) {
  ctx.reply.error(status == KeyRef::Status::kOom ? kOom : kWrongType);
}

void arityError(Context& ctx, std::string_view name) {
  Reply& r = ctx.reply;
  r.beginError();
  r.appendSanitized("ERR wrong number of arguments for '");
  r.appendSanitized(name);
  r.appendSanitized("' command");
  r.endError();
}

}  // namespace cmd

size_t commandCount() { return std::size(kCommands); }

void execute(Context& ctx, Args args) {
  const std::string_view name = args[0];
  const Spec* spec = nullptr;
  if (name.size() <= kMaxName) {
    char lower[kMaxName];
    for (size_t i = 0; i < name.size(); ++i) {
      const char c = name[i];
      lower[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
    }
    spec = index().find(std::string_view(lower, name.size()));
  }
  if (spec == nullptr) {
    unknownCommand(ctx, args);
    return;
  }
  const int n = static_cast<int>(args.size());
  if ((spec->arity > 0 && n != spec->arity) || (spec->arity < 0 && n < -spec->arity)) {
    cmd::arityError(ctx, spec->name);
    return;
  }
  if (spec->denyoom && ctx.store.memoryFull()) {
    ctx.reply.error(cmd::kOom);
    return;
  }
  spec->fn(ctx, args);
}

}  // namespace portd::handlers::resp
