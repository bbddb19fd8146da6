#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "handlers/resp/reply.h"
#include "handlers/resp/store.h"

namespace portd::handlers::resp {

// What INFO and HELLO tell about the server.
struct ServerInfo {
  int64_t start_ms = 0;  // steady clock, for uptime
  int pid = 0;
};

// What one command runs with: the store, where its reply goes, and the connection's facts.
struct Context {
  Store& store;
  Reply reply;
  Clock clock;
  const ServerInfo& server;
  uint64_t client_id = 0;
  bool close_after = false;  // QUIT: close once the reply is sent
};

using Args = std::span<const std::string_view>;

// Runs one command (args[0] is its name, in any case) and appends its reply: Redis's own error
// texts for an unknown command, a wrong number of arguments, a key of the wrong type, and the
// OOM error when a command that can grow the store finds it at max_memory.
void execute(Context& ctx, Args args);

// How many commands there are (COMMAND COUNT).
size_t commandCount();

}  // namespace portd::handlers::resp
