#pragma once

#include <functional>
#include <memory>

#include "config/config.h"

namespace portd::core {

// Reads the configuration again for a reload (SIGHUP); throws config::ConfigError (or any
// std::exception) when it is not valid.
using Reloader = std::function<std::shared_ptr<const config::Config>()>;

// Binds every listener, runs the workers and handles SIGTERM/SIGINT (drain) and SIGHUP (reload
// through `reloader`), on the calling (main) thread. Returns the process exit status: 0 after
// a clean shutdown, 1 when a listener could not be bound or a worker could not start.
int runServer(std::shared_ptr<const config::Config> config, Reloader reloader = {});

// How many workers "workers = 0" means: the CPUs in this process's affinity mask, and no more
// than its cgroup's CPU quota allows (see core/cpu_limit.h).
unsigned defaultWorkerCount();

}  // namespace portd::core
