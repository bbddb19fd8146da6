#include "admin/totals.h"

#include <dirent.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace portd::admin {

using net::ListenerStats;

Totals sum(const ServerState& state, const std::string& listener) {
  Totals t;
  for (unsigned w = 0; w < state.workerCount(); ++w) {
    const auto& map = state.worker(w).listeners;
    auto it = map.find(listener);
    if (it == map.end()) {
      continue;
    }
    const ListenerStats& s = *it->second;
    t.accepted += s.accepted.load();
    t.closed += s.closed.load();
    t.rejected += s.rejected.load();
    t.accept_errors += s.accept_errors.load();
    t.idle_timeouts += s.idle_timeouts.load();
    t.handler_errors += s.handler_errors.load();
    t.bytes_in += s.bytes_in.load();
    t.bytes_out += s.bytes_out.load();
    t.datagrams_in += s.datagrams_in.load();
    t.datagrams_out += s.datagrams_out.load();
    t.datagrams_dropped += s.datagrams_dropped.load();
    t.refused_own_address += s.datagrams_refused_own_address.load();
    t.refused_blocked_port += s.datagrams_refused_blocked_port.load();
    t.replies_refused_rate += s.replies_refused_rate.load();
    t.has_requests = t.has_requests || s.requests.has_requests.load(std::memory_order_relaxed);
    t.requests += s.requests.requests.load();
    t.bad_requests += s.requests.bad_requests.load();
    t.too_large += s.requests.too_large.load();
    t.timeouts += s.requests.timeouts.load();
    t.latency_sum_us += s.requests.latency_sum_us.load();
    for (size_t i = 0; i < t.responses.size(); ++i) {
      t.responses[i] += s.requests.responses[i].load();
    }
    for (size_t i = 0; i < t.faults.size(); ++i) {
      t.faults[i] += s.faults[i].load();
    }
    for (size_t i = 0; i < t.latency.size(); ++i) {
      t.latency[i] += s.requests.latency[i].load();
    }
    // A pair rather than a structured binding: clang 14 (the fuzz build) cannot capture a
    // binding in a lambda.
    for (const auto& entry : s.handler.snapshot()) {
      auto found = std::find_if(t.handler.begin(), t.handler.end(),
                                [&](const auto& p) { return p.first == entry.first; });
      if (found == t.handler.end()) {
        t.handler.emplace_back(entry.first, entry.second);
      } else {
        found->second += entry.second;
      }
    }
    sumSeries(s.series, &t.series);
  }
  return t;
}

uint64_t openFds() {
  uint64_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') {
        ++n;
      }
    }
    ::closedir(d);
    --n;  // the directory's own descriptor
  }
  return n;
}

uint64_t residentBytes() {
  uint64_t pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%lu %lu", &pages, &resident) != 2) {
      resident = 0;
    }
    std::fclose(f);
  }
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

std::string compiler() {
#if defined(__clang__)
  return fmt::format("clang {}.{}.{}", __clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
  return fmt::format("gcc {}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#else
  return "unknown";
#endif
}

}  // namespace portd::admin
