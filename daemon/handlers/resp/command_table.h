#pragma once

#include "handlers/resp/commands.h"
#include "handlers/resp/request_parser.h"

// The commands' functions, for command_table.cc; each file of commands defines its own.
namespace portd::handlers::resp::cmd {

// Redis's texts, shared by the commands.
inline constexpr std::string_view kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
inline constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
inline constexpr std::string_view kNotFloat = "ERR value is not a valid float";
inline constexpr std::string_view kSyntax = "ERR syntax error";
inline constexpr std::string_view kOom = "OOM command not allowed when used memory > 'maxmemory'.";

// Whether `a` is `lower` in any case (option names, subcommands).
inline bool equalsLower(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    const char c = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] + 32) : a[i];
    if (c != lower[i]) {
      return false;
    }
  }
  return true;
}

// Writes the error for a KeyRef status that is not kOk.
void statusError(Context& ctx, KeyRef::Status status);
// The error for a wrong number of arguments, naming `name` (lower case, "config|get").
void arityError(Context& ctx, std::string_view name);

// server.cc
void ping(Context&, Args);
void echo(Context&, Args);
void quit(Context&, Args);
void select(Context&, Args);
void hello(Context&, Args);
void command(Context&, Args);
void config(Context&, Args);
void info(Context&, Args);
void dbsize(Context&, Args);
void flushall(Context&, Args);
// keys.cc
void get(Context&, Args);
void set(Context&, Args);
void del(Context&, Args);
void exists(Context&, Args);
void type(Context&, Args);
void ttl(Context&, Args);
void pttl(Context&, Args);
void incr(Context&, Args);
void decr(Context&, Args);
void incrby(Context&, Args);
void decrby(Context&, Args);
void mset(Context&, Args);
void mget(Context&, Args);
// lists.cc
void lpush(Context&, Args);
void rpush(Context&, Args);
void lpop(Context&, Args);
void rpop(Context&, Args);
void lrange(Context&, Args);
void llen(Context&, Args);
// collections.cc
void sadd(Context&, Args);
void spop(Context&, Args);
void scard(Context&, Args);
void hset(Context&, Args);
void hget(Context&, Args);
void hlen(Context&, Args);
void zadd(Context&, Args);
void zpopmin(Context&, Args);
void zcard(Context&, Args);
// streams.cc
void xadd(Context&, Args);
void xlen(Context&, Args);

}  // namespace portd::handlers::resp::cmd
