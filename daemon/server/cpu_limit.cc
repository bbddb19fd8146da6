#include "server/cpu_limit.h"

#include <fmt/format.h>
#include <sched.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

namespace portd::server {

namespace {

std::optional<std::string> readFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return std::nullopt;
  }
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// cgroup v2 cpu.max: "max 100000" (no limit) or "150000 100000".
std::optional<double> parseCpuMax(const std::string& text) {
  std::istringstream in(text);
  std::string quota;
  double period = 0;
  if (!(in >> quota >> period) || quota == "max" || period <= 0) {
    return std::nullopt;
  }
  try {
    double q = std::stod(quota);
    return q > 0 ? std::optional<double>(q / period) : std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// cgroup v1: cfs_quota_us is -1 without a limit.
std::optional<double> parseCfs(const std::string& quota_text, const std::string& period_text) {
  try {
    double q = std::stod(quota_text);
    double p = std::stod(period_text);
    return q > 0 && p > 0 ? std::optional<double>(q / p) : std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Both the process's own cgroup directory and the root: inside a container's cgroup namespace
// the root is the container's cgroup, while /proc/self/cgroup may name a path the container
// cannot see.
std::vector<std::string> candidates(const std::string& mount, const std::string& path) {
  std::vector<std::string> out;
  if (!path.empty() && path != "/") {
    out.push_back(mount + path);
  }
  out.push_back(mount);
  return out;
}

}  // namespace

std::optional<double> cgroupCpuQuota(const std::string& sys_root, const std::string& proc_cgroup) {
  std::optional<double> best;
  auto consider = [&](std::optional<double> q) {
    if (q && (!best || *q < *best)) {
      best = q;
    }
  };
  std::istringstream lines(proc_cgroup);
  std::string line;
  while (std::getline(lines, line)) {
    // "hierarchy-ID:controller-list:cgroup-path"
    size_t a = line.find(':');
    size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) {
      continue;
    }
    std::string controllers = line.substr(a + 1, b - a - 1);
    std::string path = line.substr(b + 1);
    if (line.compare(0, a, "0") == 0 && controllers.empty()) {
      for (const std::string& dir : candidates(sys_root, path)) {
        if (auto text = readFile(dir + "/cpu.max")) {
          consider(parseCpuMax(*text));
        }
      }
      continue;
    }
    std::istringstream list(controllers);
    std::string c;
    bool cpu = false;
    while (std::getline(list, c, ',')) {
      cpu = cpu || c == "cpu";
    }
    if (!cpu) {
      continue;
    }
    for (const std::string& mount :
         {sys_root + "/" + controllers, sys_root + "/cpu", sys_root + "/cpu,cpuacct"}) {
      for (const std::string& dir : candidates(mount, path)) {
        auto quota = readFile(dir + "/cpu.cfs_quota_us");
        auto period = readFile(dir + "/cpu.cfs_period_us");
        if (quota && period) {
          consider(parseCfs(*quota, *period));
        }
      }
    }
  }
  // A cgroup v2 system without a v2 line in /proc/self/cgroup is not possible, but a container
  // may show a v2 root with an empty /proc/self/cgroup path: look at the root anyway.
  if (auto text = readFile(sys_root + "/cpu.max")) {
    consider(parseCpuMax(*text));
  }
  return best;
}

CpuBudget cpuBudget() {
  CpuBudget b;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
    b.affinity = static_cast<unsigned>(CPU_COUNT(&set));
  } else {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    b.affinity = n > 0 ? static_cast<unsigned>(n) : 1;
  }
  b.quota = cgroupCpuQuota("/sys/fs/cgroup", readFile("/proc/self/cgroup").value_or(""));
  b.workers = b.affinity;
  if (b.quota) {
    b.workers = std::min(b.workers, static_cast<unsigned>(std::ceil(*b.quota - 1e-9)));
  }
  b.workers = std::max(b.workers, 1u);
  return b;
}

std::string CpuBudget::describe() const {
  std::string s = fmt::format("{} CPU{} in the affinity mask", affinity, affinity == 1 ? "" : "s");
  if (quota) {
    s += fmt::format(", cgroup CPU quota {:g}", *quota);
  }
  return s;
}

}  // namespace portd::server
