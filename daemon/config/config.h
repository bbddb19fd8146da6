#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/duration.h"
#include "handlers/handler.h"
#include "net/address.h"
#include "net/socket.h"
#include "plugin/plugin_loader.h"

namespace portd::config {

using namespace std::chrono_literals;

struct ServerConfig {
  // 0: one worker per CPU this process may run on.
  unsigned workers = 0;
  Duration shutdown_timeout = 10s;
};

enum class LogFormat { kText, kJson };

struct LogConfig {
  std::string level = "info";
  LogFormat format = LogFormat::kText;
};

struct ListenerConfig {
  std::string name;
  net::Transport protocol = net::Transport::kTcp;
  net::Address address;
  std::string handler;
  // TCP only. The limit is for the listener as a whole; each of N workers admits
  // ceil(max_connections / N), so that workers share no counter.
  uint64_t max_connections = 10000;
  // TCP only. A connection with no byte read or written for this long is closed; 0 = never.
  Duration idle_timeout = 300s;
  // TCP only. Reading from a connection stops while more than this much output is queued for
  // it and resumes once the queue is down to half.
  uint64_t write_buffer_limit = 1 << 20;
  // Validated handler options and what the handler made of them.
  std::shared_ptr<const handlers::Options> options;
  std::shared_ptr<const handlers::HandlerConfig> handler_config;

  uint64_t maxConnectionsPerWorker(unsigned workers) const {
    return (max_connections + workers - 1) / workers;
  }
};

// A complete, validated configuration. Immutable once loaded; workers share it through
// std::shared_ptr<const Config>.
struct Config {
  std::string source;  // file name, or "(embedded default)"
  ServerConfig server;
  LogConfig log;
  // The handlers this configuration may name: the built-ins plus its plugins' handlers.
  std::shared_ptr<const handlers::Registry> registry;
  std::vector<plugin::PluginInfo> plugins;
  std::vector<ListenerConfig> listeners;
};

const char* transportName(net::Transport t);

}  // namespace portd::config
