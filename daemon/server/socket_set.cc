#include "server/socket_set.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "server/systemd.h"

namespace portd::server {

namespace {

// listen()'s backlog until the listener's handshake settings are applied (SocketSet::tune):
// net::SocketTuning's default.
constexpr int kBacklog = net::SocketTuning{}.backlog;

// dup() rather than fcntl(F_DUPFD_CLOEXEC): ThreadSanitizer follows dup() and so learns that
// the number is a new descriptor. It does not see libuv close descriptors (libuv calls
// syscall(SYS_close)), and without this a number reused on another thread looks like a race.
int dupCloexec(int fd) {
  int copy = ::dup(fd);
  if (copy >= 0) {
    ::fcntl(copy, F_SETFD, FD_CLOEXEC);
  }
  return copy;
}

void closeFds(std::vector<int>& fds) {
  for (int fd : fds) {
    ::close(fd);
  }
  fds.clear();
}

}  // namespace

bool SocketSet::prepare(const config::Config& config, unsigned workers, SocketSet& current,
                        std::map<std::string, std::vector<int>>& passed, std::string* error) {
  // For each group taken from `current`: how many of its sockets existed before this call, and
  // its name there (a renamed listener takes over the sockets of its old name).
  std::map<std::string, size_t> before;
  std::map<std::string, std::string> origin;
  // On failure: close what this call opened or adopted, give `current` its sockets back.
  auto fail = [&](std::string message) {
    for (auto& [name, g] : groups_) {
      size_t keep = before.contains(name) ? before[name] : 0;
      for (size_t k = keep; k < g.fds.size(); ++k) {
        ::close(g.fds[k]);
      }
      g.fds.resize(keep);
      if (keep > 0) {
        current.groups_[origin[name]] = std::move(g);
      }
    }
    groups_.clear();
    *error = std::move(message);
    return false;
  };

  for (const config::ListenerConfig& l : config.listeners) {
    bool tcp = l.protocol == net::Transport::kTcp;
    auto kept = current.groups_.find(l.name);
    bool same = kept != current.groups_.end() && kept->second.protocol == l.protocol &&
                (kept->second.passed || kept->second.requested == l.address);
    if (!same && l.address.port() != 0) {
      // A renamed listener on the same address takes over its sockets, provided no listener
      // of the new configuration keeps the old name: binding new ones beside them would let
      // the kernel queue connections on sockets about to close.
      for (auto it = current.groups_.begin(); it != current.groups_.end(); ++it) {
        const Group& g = it->second;
        if (!g.passed && g.protocol == l.protocol && g.requested == l.address &&
            std::none_of(config.listeners.begin(), config.listeners.end(),
                         [&](const config::ListenerConfig& o) { return o.name == it->first; })) {
          kept = it;
          same = true;
          break;
        }
      }
    }
    if (same) {
      before[l.name] = kept->second.fds.size();
      origin[l.name] = kept->first;
      groups_[l.name] = std::move(kept->second);
      current.groups_.erase(kept);
    } else if (auto p = passed.find(l.name); p != passed.end()) {
      std::vector<int> fds = std::move(p->second);
      passed.erase(p);
      groups_[l.name] = Group{l.protocol, l.address, net::localAddress(fds[0]), fds, true, {}};
      std::string why = fds.size() > 1
                            ? "more than one socket is named after it (FileDescriptorName=)"
                            : systemd::checkPassedSocket(fds[0], tcp);
      if (!why.empty()) {
        return fail(fmt::format("listener \"{}\": the socket passed by systemd: {}", l.name, why));
      }
      net::setNonBlocking(fds[0]);
      if (tcp && !net::readTuning(fds[0], &groups_[l.name].base, &why)) {
        return fail(fmt::format("listener \"{}\": the socket passed by systemd: {}", l.name, why));
      }
    } else {
      groups_[l.name] = Group{l.protocol, l.address, l.address, {}, false, {}};
    }
    Group& g = groups_[l.name];
    if (g.passed) {
      // One socket, shared by every worker through dups.
      if (std::string why; tcp && !tune(l, g, &why)) {
        return fail(std::move(why));
      }
      continue;
    }
    // Another process on the address would silently share it with us through SO_REUSEPORT
    // (the kernel spreads connections over every socket in the group, whoever owns it).
    // Unless the listener asks to share, make sure nobody holds the address before joining.
    if (g.fds.empty() && l.address.port() != 0 && !l.reuse_port) {
      std::string why;
      int probe = net::openBoundSocket(l.protocol, l.address, net::Sharing::kExclusive, &why);
      if (probe < 0) {
        return fail(fmt::format("listener \"{}\": {}{}", l.name, why,
                                why.find("in use") != std::string::npos
                                    ? " (another process serves it; set reuse_port = true on "
                                      "the listener to share it)"
                                    : ""));
      }
      ::close(probe);
    }
    // At least one socket per worker; more are kept (workers then serve several).
    while (g.fds.size() < workers) {
      std::string why;
      int fd = net::openBoundSocket(l.protocol, g.fds.empty() ? l.address : g.bound, &why);
      if (fd < 0) {
        return fail(fmt::format("listener \"{}\": {}", l.name, why));
      }
      // Listening from here on: connections queue from the moment a reload is announced,
      // before the workers have taken the socket (they adopt it as it is, without listen()).
      if (tcp && ::listen(fd, kBacklog) != 0) {
        int err = errno;
        ::close(fd);
        return fail(fmt::format("listener \"{}\": listen: {}", l.name, std::strerror(err)));
      }
      if (g.fds.empty()) {
        g.bound = net::localAddress(fd);
        // What the kernel made of kBacklog, and Fast Open if net.ipv4.tcp_fastopen turns it on
        // for every listener: what keys left out of the file keep.
        if (tcp && !net::readTuning(fd, &g.base, &why)) {
          ::close(fd);
          return fail(fmt::format("listener \"{}\": {}", l.name, why));
        }
      }
      g.fds.push_back(fd);
    }
    // Kept sockets too: a reload changes the handshake in place.
    if (std::string why; tcp && !tune(l, g, &why)) {
      return fail(std::move(why));
    }
  }
  return true;
}

bool SocketSet::tune(const config::ListenerConfig& l, const Group& g, std::string* error) {
  net::SocketTuning want = l.listenTuning().over(g.base);
  for (int fd : g.fds) {
    std::string why;
    if (!net::applyTuning(fd, want, &why)) {
      *error = fmt::format("listener \"{}\": {}", l.name, why);
      return false;
    }
  }
  return true;
}

std::vector<net::ListenQueue> SocketSet::listenQueues(const std::string& name) const {
  std::vector<net::ListenQueue> out;
  const Group* g = find(name);
  if (g == nullptr || g->protocol != net::Transport::kTcp) {
    return out;
  }
  for (int fd : g->fds) {
    if (std::optional<net::ListenQueue> q = net::readListenQueue(fd)) {
      out.push_back(*q);
    }
  }
  return out;
}

const SocketSet::Group* SocketSet::find(const std::string& name) const {
  auto it = groups_.find(name);
  return it == groups_.end() ? nullptr : &it->second;
}

std::vector<int> SocketSet::assign(const std::string& name, unsigned w, unsigned workers) const {
  std::vector<int> out;
  const Group* g = find(name);
  if (g == nullptr) {
    return out;
  }
  if (g->passed) {
    out.push_back(dupCloexec(g->fds[0]));
    return out;
  }
  for (size_t k = w; k < g->fds.size(); k += workers) {
    out.push_back(dupCloexec(g->fds[k]));
  }
  return out;
}

void SocketSet::closeAll() {
  for (auto& [name, g] : groups_) {
    closeFds(g.fds);
  }
  groups_.clear();
}

}  // namespace portd::server
