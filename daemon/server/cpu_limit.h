#pragma once

#include <optional>
#include <string>

namespace portd::server {

// How many workers "workers = 0" means, and why.
struct CpuBudget {
  unsigned affinity = 1;         // CPUs in the process's affinity mask (cpuset)
  std::optional<double> quota;   // CPUs allowed by the cgroup's CFS quota, if limited
  unsigned workers = 1;          // min(affinity, ceil(quota)), at least 1
  std::string describe() const;  // "2 CPUs in the affinity mask, CPU quota 1.5"
};

// A container limited to 1.5 CPUs must not run one worker per host core: threads beyond the
// quota only add throttling. Reads the affinity mask and the cgroup CPU quota, v2 (cpu.max)
// or v1 (cpu.cfs_quota_us / cpu.cfs_period_us), of the cgroup named in /proc/self/cgroup and
// of the namespace root (what a container sees).
CpuBudget cpuBudget();

// The quota in CPUs under the cgroup file system at `sys_root` (normally /sys/fs/cgroup), for
// a process whose /proc/self/cgroup reads `proc_cgroup`. Nothing when there is no limit.
std::optional<double> cgroupCpuQuota(const std::string& sys_root, const std::string& proc_cgroup);

}  // namespace portd::server
