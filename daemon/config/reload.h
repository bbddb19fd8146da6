#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"

namespace portd::config {

// What a reload (SIGHUP) keeps of the configuration in force. A listener that the new file
// leaves as it was keeps its handler configuration, and with it the handler instances the
// workers made from it, so that per-worker handler state (caches, counters, timers) survives
// a reload. Only the main thread calls these, before the new configuration reaches a worker.

// Whether `after` may be served by the handler configuration, and so the listener objects,
// made for `before`: the same name, protocol, address, limits and reuse_port, the same handler
// from the same registry entry (a plugin loaded again as a new build is another entry), and
// the same validated options. A listener whose options name a file never qualifies: its
// handler read that file when it was configured, and a reload is how a changed file is read
// again. Whether the worker count changed is for the caller to check.
bool keepsHandler(const ListenerConfig& before, const ListenerConfig& after);

// `next`, with the options and handler configuration of `current` for every listener that
// keepsHandler() allows, and the names of those listeners in `kept`. Returns `next` itself
// when no listener qualifies; otherwise a copy, and the handler configurations that `next`
// made for the kept listeners are released when the caller's last reference to `next` goes,
// which is why it must be called on the main thread.
std::shared_ptr<const Config> carryOverHandlers(const Config& current,
                                                std::shared_ptr<const Config> next,
                                                std::vector<std::string>* kept);

}  // namespace portd::config
