#pragma once

#include <memory>

#include "config/config.h"

namespace portd::core {

// Binds every listener, runs the workers and handles SIGTERM/SIGINT, on the calling (main)
// thread. Returns the process exit status: 0 after a clean shutdown, 1 when a listener could
// not be bound or a worker could not start.
int runServer(std::shared_ptr<const config::Config> config);

// How many workers "workers = 0" means: the CPUs in this process's affinity mask, and no more
// than its cgroup's CPU quota allows (see core/cpu_limit.h).
unsigned defaultWorkerCount();

}  // namespace portd::core
