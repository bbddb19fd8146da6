// Connection and server commands: what clients send before and around their work.

#include <cstdio>
#include <string>

#include "handlers/resp/command_table.h"

namespace portd::handlers::resp::cmd {

namespace {

// The Redis version portd answers as: clients pick features by it, and 7.0 is the protocol
// portd speaks (RESP2, no RESP3).
constexpr std::string_view kRedisVersion = "7.0.0";

void unknownSubcommand(Context& ctx, std::string_view sub, std::string_view command) {
  Reply& r = ctx.reply;
  r.beginError();
  r.appendSanitized("ERR unknown subcommand '");
  r.appendSanitized(sub.substr(0, 128));
  r.appendSanitized("'. Try ");
  r.appendSanitized(command);
  r.appendSanitized(" HELP.");
  r.endError();
}

}  // namespace

void ping(Context& ctx, Args args) {
  if (args.size() > 2) {
    arityError(ctx, "ping");
  } else if (args.size() == 2) {
    ctx.reply.bulk(args[1]);
  } else {
    ctx.reply.simple("PONG");
  }
}

void echo(Context& ctx, Args args) { ctx.reply.bulk(args[1]); }

void quit(Context& ctx, Args) {
  ctx.reply.ok();
  ctx.close_after = true;
}

void select(Context& ctx, Args args) {
  int64_t db = 0;
  if (!parseInt64(args[1], &db)) {
    ctx.reply.error(kNotInteger);
  } else if (db != 0) {
    // One database, as a Redis started with "databases 1" has.
    ctx.reply.error("ERR DB index is out of range");
  } else {
    ctx.reply.ok();
  }
}

void hello(Context& ctx, Args args) {
  if (args.size() >= 2) {
    int64_t version = 0;
    if (!parseInt64(args[1], &version)) {
      ctx.reply.error("ERR Protocol version is not an integer or out of range");
      return;
    }
    if (version != 2) {
      ctx.reply.error("NOPROTO unsupported protocol version");
      return;
    }
    for (size_t i = 2; i < args.size(); ++i) {
      if (equalsLower(args[i], "setname") && i + 1 < args.size()) {
        ++i;
      } else if (equalsLower(args[i], "auth") && i + 2 < args.size()) {
        ctx.reply.error(
            "ERR AUTH <password> called without any password configured for the default user. "
            "Are you sure your configuration is correct?");
        return;
      } else {
        ctx.reply.beginError();
        ctx.reply.appendSanitized("ERR Syntax error in HELLO option '");
        ctx.reply.appendSanitized(args[i].substr(0, 128));
        ctx.reply.appendSanitized("'");
        ctx.reply.endError();
        return;
      }
    }
  }
  Reply& r = ctx.reply;
  r.array(14);
  r.bulk("server");
  r.bulk("redis");
  r.bulk("version");
  r.bulk(kRedisVersion);
  r.bulk("proto");
  r.integer(2);
  r.bulk("id");
  r.integer(static_cast<int64_t>(ctx.client_id));
  r.bulk("mode");
  r.bulk("standalone");
  r.bulk("role");
  r.bulk("master");
  r.bulk("modules");
  r.emptyArray();
}

void command(Context& ctx, Args args) {
  if (args.size() == 1) {
    // The table of every command's flags and keys is not kept: clients that read it (redis-cli
    // for its hints) do without.
    ctx.reply.emptyArray();
    return;
  }
  const std::string_view sub = args[1];
  if (equalsLower(sub, "count")) {
    if (args.size() != 2) {
      arityError(ctx, "command|count");
      return;
    }
    ctx.reply.integer(static_cast<int64_t>(commandCount()));
  } else if (equalsLower(sub, "docs") || equalsLower(sub, "list")) {
    ctx.reply.emptyArray();
  } else if (equalsLower(sub, "info")) {
    ctx.reply.array(args.size() - 2);
    for (size_t i = 2; i < args.size(); ++i) {
      ctx.reply.nullArray();
    }
  } else {
    unknownSubcommand(ctx, sub, "COMMAND");
  }
}

void config(Context& ctx, Args args) {
  const std::string_view sub = args[1];
  if (equalsLower(sub, "get")) {
    if (args.size() < 3) {
      arityError(ctx, "config|get");
      return;
    }
    // What redis-benchmark asks before it starts: persistence is off, as it is.
    static constexpr std::pair<std::string_view, std::string_view> kKnown[] = {
        {"save", ""}, {"appendonly", "no"}};
    size_t found = 0;
    for (const auto& [name, value] : kKnown) {
      for (size_t i = 2; i < args.size(); ++i) {
        if (equalsLower(args[i], name) || args[i] == "*") {
          ++found;
          break;
        }
      }
    }
    ctx.reply.array(found * 2);
    for (const auto& [name, value] : kKnown) {
      for (size_t i = 2; i < args.size(); ++i) {
        if (equalsLower(args[i], name) || args[i] == "*") {
          ctx.reply.bulk(name);
          ctx.reply.bulk(value);
          break;
        }
      }
    }
  } else if (equalsLower(sub, "resetstat")) {
    ctx.reply.ok();
  } else if (equalsLower(sub, "set")) {
    if (args.size() < 4) {
      arityError(ctx, "config|set");
      return;
    }
    ctx.reply.beginError();
    ctx.reply.appendSanitized("ERR Unknown option or number of arguments for CONFIG SET - '");
    ctx.reply.appendSanitized(args[2].substr(0, 128));
    ctx.reply.appendSanitized("'");
    ctx.reply.endError();
  } else {
    unknownSubcommand(ctx, sub, "CONFIG");
  }
}

void info(Context& ctx, Args) {
  const int64_t uptime_s = (ctx.clock.nowMs() - ctx.server.start_ms) / 1000;
  char text[512];
  const int n =
      std::snprintf(text, sizeof(text),
                    "# Server\r\n"
                    "redis_version:%.*s\r\n"
                    "redis_mode:standalone\r\n"
                    "os:Linux\r\n"
                    "arch_bits:64\r\n"
                    "multiplexing_api:epoll\r\n"
                    "process_id:%d\r\n"
                    "uptime_in_seconds:%lld\r\n"
                    "uptime_in_days:%lld\r\n"
                    "server_software:portd\r\n"
                    "\r\n"
                    "# Keyspace\r\n"
                    "db0:keys=%llu,expires=0,avg_ttl=0\r\n",
                    static_cast<int>(kRedisVersion.size()), kRedisVersion.data(), ctx.server.pid,
                    static_cast<long long>(uptime_s), static_cast<long long>(uptime_s / 86400),
                    static_cast<unsigned long long>(ctx.store.keys()));
  ctx.reply.bulk(std::string_view(text, n > 0 ? static_cast<size_t>(n) : 0));
}

void dbsize(Context& ctx, Args) { ctx.reply.integer(static_cast<int64_t>(ctx.store.keys())); }

void flushall(Context& ctx, Args args) {
  for (size_t i = 1; i < args.size(); ++i) {
    if (!equalsLower(args[i], "async") && !equalsLower(args[i], "sync")) {
      ctx.reply.error(kSyntax);
      return;
    }
  }
  ctx.store.clear();
  ctx.reply.ok();
}

}  // namespace portd::handlers::resp::cmd
