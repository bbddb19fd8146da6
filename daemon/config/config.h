#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/duration.h"
#include "config/options.h"
#include "net/address.h"
#include "net/handler.h"
#include "net/listen_tuning.h"
#include "net/listener_settings.h"
#include "net/socket.h"

namespace portd::config {

using namespace std::chrono_literals;

struct ServerConfig {
  // 0: one worker per CPU this process may run on.
  unsigned workers = 0;
  Duration shutdown_timeout = 10s;
  // Open connections over every listener of the daemon, shared out evenly between workers as a
  // listener's max_connections is; 0 = no limit beyond each listener's.
  uint64_t max_connections = 0;
  // Latency mode: after I/O, a worker polls without sleeping for this long before it blocks in
  // epoll_wait again, trading a CPU for the cost of waking up. 0 = off.
  std::chrono::microseconds busy_poll{0};
  // The replies a worker makes for one wake-up leave in one io_uring_enter instead of a send
  // each, where the kernel allows io_uring (core/send_batch.h); false = a send each.
  bool io_uring = true;
};

enum class LogFormat { kText, kJson };

struct LogConfig {
  std::string level = "info";
  LogFormat format = LogFormat::kText;
};

// Where something was written in the configuration file, for errors found after loading.
struct Place {
  int line = 0;
  int column = 0;
};

// A listener's [listener.options] table as written: read against the handler's option schema
// once the handler is known (see handlers/bind.h). Opaque here; config/option_reader.h reads it.
struct RawOptions;

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
  // TCP only. After portd closes a connection whose peer may still be sending, it reads and
  // drops the peer's input until the peer closes too, nothing comes for this long, or 30 s
  // have passed (nginx's lingering close): closing a socket with unread input resets the
  // connection, and the answer with it. 0 = close at once.
  Duration lingering_timeout = 5s;
  // TCP only. Connections one peer IP address may hold on the listener, shared out between
  // workers like max_connections; 0 = no limit.
  uint64_t max_connections_per_ip = 0;
  // TCP only. The handshake, as nginx's `listen` has it: listen()'s backlog, TCP_DEFER_ACCEPT
  // and the TCP Fast Open queue (net/listen_tuning.h). Unset: the socket's own, i.e. 511, off
  // and off for a socket portd binds, and what the .socket unit says for one systemd passed.
  std::optional<uint32_t> backlog;
  std::optional<Duration> defer_accept;  // 0 = off
  std::optional<uint32_t> fastopen;      // 0 = off
  // Whether a second process may bind the same address and share its connections through
  // SO_REUSEPORT. Off: a second portd on the address fails with "address already in use".
  bool reuse_port = false;
  // UDP only. Datagrams from these source ports are dropped before any handler sees them, so
  // that the listener cannot be made to trade answers with a service that answers anything
  // (echo, chargen, daytime...) forever. Empty by default; echo has its own list on top.
  std::vector<uint16_t> blocked_source_ports;
  // UDP only. Replies per second allowed to one source address (a token bucket per address,
  // `udp_reply_burst` deep; 0 = no limit) and the number that may leave at once.
  uint32_t udp_reply_rate = 0;
  uint32_t udp_reply_burst = 0;
  // [listener.faults]: faults injected on purpose, under any handler (net/faults.h).
  net::FaultSettings faults;

  // What the file says of the handler: where its name is, and its options table.
  Place place;
  Place handler_place;
  std::shared_ptr<const RawOptions> raw_options;
  // Filled by handlers::bind() against a registry, not by the loader: the validated options
  // and what the handler made of them.
  std::shared_ptr<const Options> options;
  std::shared_ptr<const net::HandlerConfig> handler_config;
  // Also filled by bind(), for a reload to tell whether it may keep this listener's handler
  // instances (config/reload.h): the registry entry that made handler_config (a
  // handlers::HandlerFactory, opaque at this layer; held so that no other entry can take its
  // address while the two are compared), and whether an option names a file, which the
  // handler reads when it is configured.
  std::shared_ptr<const void> handler_factory;
  bool options_name_files = false;

  uint64_t maxConnectionsPerWorker(unsigned workers) const {
    return (max_connections + workers - 1) / workers;
  }
  // The handshake settings for the socket, with defer_accept rounded up to whole seconds, as
  // the kernel takes it.
  net::ListenTuning listenTuning() const {
    net::ListenTuning t;
    t.backlog = backlog;
    t.fastopen = fastopen;
    if (defer_accept) {
      t.defer_accept = static_cast<uint32_t>((defer_accept->count() + 999) / 1000);
    }
    return t;
  }
  // What one of `sockets` listener objects serving this listener needs to know.
  net::ListenerSettings settings(unsigned sockets) const {
    net::ListenerSettings s;
    s.name = name;
    s.max_connections = maxConnectionsPerWorker(sockets);
    s.idle_timeout = idle_timeout;
    s.write_buffer_limit = write_buffer_limit;
    s.lingering_timeout = lingering_timeout;
    s.max_connections_per_ip =
        max_connections_per_ip == 0 ? 0 : (max_connections_per_ip + sockets - 1) / sockets;
    s.blocked_source_ports = blocked_source_ports;
    s.reply_rate = udp_reply_rate;
    s.reply_burst = udp_reply_burst;
    s.faults = faults;
    return s;
  }
};

// A [[plugin]] table: the file to load, resolved against the configuration file's directory.
struct PluginConfig {
  std::string path;
  Place place;
  // Filled by plugin::loadPlugins(), not by the loader: what was loaded from `path`. `build`
  // describes the file (inode, size, modification time) and changes with every build of it, so
  // that a reload can tell a rebuilt plugin from an unchanged one and log which build serves.
  std::string name;
  std::string version;
  std::string build;
};

// A configuration as the file says it, checked for everything that does not depend on
// handlers or plugins. Loading has no side effects: the caller loads `plugins`, then checks the
// listeners against the resulting registry (handlers::bind). Immutable once bound; workers
// share it through std::shared_ptr<const Config>.
struct Config {
  std::string source;  // file name, or "(embedded default)"
  Place place;         // of the document: where an error about something it lacks points
  ServerConfig server;
  LogConfig log;
  std::vector<PluginConfig> plugins;
  std::vector<ListenerConfig> listeners;
  // [admin] address: the admin endpoint's own listener; none when absent.
  std::optional<net::Address> admin_address;
};

const char* transportName(net::Transport t);

// Listener `i`'s handler configuration, as a pointer that keeps the whole configuration alive:
// what a listener object holds, so that its connections keep the settings they started with.
inline std::shared_ptr<const net::HandlerConfig> sharedHandler(
    const std::shared_ptr<const Config>& config, size_t i) {
  return {config, config->listeners[i].handler_config.get()};
}

}  // namespace portd::config
