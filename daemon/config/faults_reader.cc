#include "config/faults_reader.h"

#include <fmt/format.h>

#include <cmath>

namespace portd::config {

namespace {

constexpr uint64_t kMaxDelayMs = 60 * 1000;
constexpr uint64_t kMaxRate = uint64_t{1} << 40;  // a TiB a second: beyond any link
constexpr uint64_t kMaxResetAfter = uint64_t{1} << 50;

uint32_t perMillion(double fraction) {
  return static_cast<uint32_t>(std::llround(fraction * net::FaultSettings::kMillion));
}

// A probability from 0 to 1: a float, or the integers 0 and 1.
uint32_t probability(const TomlReader& toml, const toml::node& n, const std::string& key) {
  double v = 0;
  if (auto f = n.value_exact<double>()) {
    v = *f;
  } else if (auto i = n.value_exact<int64_t>()) {
    v = static_cast<double>(*i);
  } else {
    toml.fail(n.source(), key,
              fmt::format("expected a probability from 0 to 1, got {}", TomlReader::typeName(n)));
  }
  if (!(v >= 0 && v <= 1)) {
    toml.fail(n.source(), key, fmt::format("a probability is from 0 to 1, not {}", v));
  }
  return perMillion(v);
}

// "5ms:10,50ms:1": each delay with the percentage of reads or datagrams it applies to.
std::vector<net::FaultDelay> delays(const TomlReader& toml, const toml::node& n,
                                    const std::string& key) {
  const std::string text = toml.str(n, key);
  std::vector<net::FaultDelay> out;
  double total = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) {
      comma = text.size();
    }
    const std::string entry = text.substr(start, comma - start);
    start = comma + 1;
    const size_t colon = entry.rfind(':');
    if (colon == std::string::npos) {
      toml.fail(n.source(), key,
                fmt::format("\"{}\": expected DURATION:PERCENT, e.g. \"5ms:10,50ms:1\"", entry));
    }
    std::string why;
    auto d = parseDuration(entry.substr(0, colon), &why);
    if (!d || d->count() <= 0 || static_cast<uint64_t>(d->count()) > kMaxDelayMs) {
      toml.fail(n.source(), key,
                fmt::format("\"{}\": {}", entry, d ? "a delay is from 1ms to 1m" : why));
    }
    const std::string pct_text = entry.substr(colon + 1);
    char* end = nullptr;
    const double pct = std::strtod(pct_text.c_str(), &end);
    if (pct_text.empty() || end != pct_text.c_str() + pct_text.size() || !(pct > 0) || pct > 100) {
      toml.fail(n.source(), key,
                fmt::format("\"{}\": the percentage is a number above 0, at most 100", entry));
    }
    total += pct;
    out.push_back({static_cast<uint32_t>(d->count()), perMillion(pct / 100)});
  }
  if (total > 100 + 1e-9) {
    toml.fail(n.source(), key, fmt::format("the percentages add up to {} (at most 100)", total));
  }
  return out;
}

// "1MiB/s", "64KiB/s" or an integer of bytes per second.
uint64_t rate(const TomlReader& toml, const toml::node& n, const std::string& key) {
  uint64_t v = 0;
  if (n.is_integer()) {
    v = static_cast<uint64_t>(toml.integer(n, key, 0, static_cast<int64_t>(kMaxRate)));
  } else {
    const std::string text = toml.str(n, key);
    if (text.size() < 3 || text.substr(text.size() - 2) != "/s") {
      toml.fail(n.source(), key,
                fmt::format("\"{}\": expected bytes per second, e.g. \"1MiB/s\"", text));
    }
    std::string why;
    auto s = parseSize(text.substr(0, text.size() - 2), &why);
    if (!s) {
      toml.fail(n.source(), key, fmt::format("\"{}\": {}", text, why));
    }
    v = *s;
  }
  if (v > kMaxRate) {
    toml.fail(n.source(), key, "at most 1TiB/s");
  }
  return v;
}

}  // namespace

net::FaultSettings readFaults(const TomlReader& toml, const toml::table& t, const std::string& path,
                              net::Transport transport) {
  toml.checkKeys(t, path,
                 {"seed", "udp_drop", "udp_duplicate", "udp_reorder", "delay", "reset_after_bytes",
                  "write_rate", "read_rate", "accept_delay"});
  const bool udp = transport == net::Transport::kUdp;
  for (std::string_view k : {"udp_drop", "udp_duplicate", "udp_reorder"}) {
    if (const toml::node* n = t.get(k); n && !udp) {
      toml.fail(n->source(), TomlReader::join(path, k), "applies to udp listeners only");
    }
  }
  for (std::string_view k : {"reset_after_bytes", "write_rate", "read_rate", "accept_delay"}) {
    if (const toml::node* n = t.get(k); n && udp) {
      toml.fail(n->source(), TomlReader::join(path, k), "applies to tcp listeners only");
    }
  }
  net::FaultSettings f;
  if (auto* n = toml.get(t, path, "seed", false)) {
    f.seed = static_cast<uint64_t>(toml.integer(*n, path + ".seed", 0, INT64_MAX));
  }
  if (auto* n = toml.get(t, path, "udp_drop", false)) {
    f.udp_drop = probability(toml, *n, path + ".udp_drop");
  }
  if (auto* n = toml.get(t, path, "udp_duplicate", false)) {
    f.udp_duplicate = probability(toml, *n, path + ".udp_duplicate");
  }
  if (auto* n = toml.get(t, path, "udp_reorder", false)) {
    f.udp_reorder = probability(toml, *n, path + ".udp_reorder");
  }
  if (auto* n = toml.get(t, path, "delay", false)) {
    f.delay = delays(toml, *n, path + ".delay");
  }
  if (auto* n = toml.get(t, path, "reset_after_bytes", false)) {
    f.reset_after_bytes = toml.size(*n, path + ".reset_after_bytes");
    if (f.reset_after_bytes > kMaxResetAfter) {
      toml.fail(n->source(), path + ".reset_after_bytes", "at most 1PiB");
    }
  }
  if (auto* n = toml.get(t, path, "write_rate", false)) {
    f.write_rate = rate(toml, *n, path + ".write_rate");
  }
  if (auto* n = toml.get(t, path, "read_rate", false)) {
    f.read_rate = rate(toml, *n, path + ".read_rate");
  }
  if (auto* n = toml.get(t, path, "accept_delay", false)) {
    const Duration d = toml.duration(*n, path + ".accept_delay");
    if (static_cast<uint64_t>(d.count()) > kMaxDelayMs) {
      toml.fail(n->source(), path + ".accept_delay", "at most 1m");
    }
    f.accept_delay_ms = static_cast<uint32_t>(d.count());
  }
  return f;
}

}  // namespace portd::config
