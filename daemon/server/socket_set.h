#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/config.h"
#include "net/address.h"
#include "net/listen_tuning.h"
#include "net/socket.h"

namespace portd::server {

// The server's own descriptors of every listening socket, by listener name. Workers get dups,
// so a socket outlives any worker's copy of it: a reload or a change in the worker count moves
// sockets between workers and listener objects without ever closing one, and nothing queued
// in a socket (pending connections, datagrams) is lost. A socket closes only when its listener
// is removed from the configuration or the daemon stops. Main thread only.
class SocketSet {
 public:
  SocketSet() = default;
  ~SocketSet() { closeAll(); }
  SocketSet(const SocketSet&) = delete;
  SocketSet& operator=(const SocketSet&) = delete;
  SocketSet(SocketSet&&) = default;
  SocketSet& operator=(SocketSet&&) = default;

  struct Group {
    net::Transport protocol = net::Transport::kTcp;
    net::Address requested;  // as configured
    net::Address bound;      // with the port the kernel chose for port 0
    std::vector<int> fds;    // one per SO_REUSEPORT socket (one per passed socket: exactly 1)
    bool passed = false;     // from systemd's socket activation
    // TCP: the handshake settings the sockets had before the configuration's were applied
    // (portd's defaults, or the .socket unit's), which a key left out of the file keeps.
    net::SocketTuning base;
  };

  // The sockets `config` needs with `workers` workers: taken from `current` where a listener
  // keeps its name, protocol and address (moved out of it), adopted from `passed` (systemd's,
  // by name; consumed), or bound now. Each listener gets at least `workers` sockets, except a
  // passed one, which is shared. On failure returns false with `error` set, having closed only
  // what it bound itself.
  bool prepare(const config::Config& config, unsigned workers, SocketSet& current,
               std::map<std::string, std::vector<int>>& passed, std::string* error);

  const Group* find(const std::string& name) const;
  // The accept queue of each socket of TCP listener `name`, in the order of Group::fds (so
  // socket k is served by worker k % workers); empty for an unknown or UDP listener, and a
  // socket that cannot be read is left out. Reads this object's own descriptors, which only
  // this (the main) thread opens and closes, so a reload cannot close one under the read.
  std::vector<net::ListenQueue> listenQueues(const std::string& name) const;
  // Dups of the sockets worker `w` of `workers` serves for `name`: sockets k with
  // k % workers == w, so that all of them are served whatever the count.
  std::vector<int> assign(const std::string& name, unsigned w, unsigned workers) const;
  void closeAll();

 private:
  // Sets listener `l`'s handshake settings on every socket of `g`.
  static bool tune(const config::ListenerConfig& l, const Group& g, std::string* error);

  std::map<std::string, Group> groups_;
};

}  // namespace portd::server
