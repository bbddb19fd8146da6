#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "handlers/smtp/session.h"

namespace portd::handlers::smtp {

// SplitMix64 (Steele, Lea, Flood 2014): a few instructions per number, plenty for choosing
// faults. Each worker's instance owns one, so drawing touches no shared cache line.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound), by a multiply and a shift instead of a modulo.
  uint32_t below(uint32_t bound) { return static_cast<uint32_t>(((next() >> 32) * bound) >> 32); }

 private:
  uint64_t state_;
};

// Probabilities in parts per million: "2.5" (percent) is 25000.
inline constexpr uint32_t kPpm = 1'000'000;

// One fault option's list: "VALUE:PERCENT", "VALUE:every=N" or "VALUE" (always), separated by
// commas. An every=N entry fires on the Nth, 2Nth, ... time the rule is asked, counted over the
// whole listener (every worker), so that "every=2" means every second message whichever worker
// serves it; the percentages draw one number from the asking worker's generator.
class FaultRule {
 public:
  struct Entry {
    int64_t value = 0;
    uint32_t ppm = 0;    // a probability entry
    uint32_t every = 0;  // an every=N entry
  };
  static constexpr size_t kMax = 8;

  FaultRule() = default;
  FaultRule(const FaultRule&) = delete;
  FaultRule& operator=(const FaultRule&) = delete;

  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  const Entry& entry(size_t i) const { return entries_[i]; }
  // For parsing: false (and nothing added) when full or the percentages would pass 100.
  bool add(const Entry& e);
  // Whether the rule fires this time; *value is the firing entry's value.
  bool draw(SplitMix64& rng, int64_t* value) const;

 private:
  std::array<Entry, kMax> entries_{};
  size_t count_ = 0;
  uint32_t total_ppm_ = 0;
  bool has_every_ = false;
  mutable std::atomic<uint64_t> asked_{0};
};

// The names stages have in options: fault_<name>, fault_<name>_delay, and the entries of
// fault_disconnect and fault_421 ("data:1").
std::string_view stageName(Stage stage);

// Every fault a listener injects, per stage, from its fault_* options. Immutable after the
// options are read, but for the every=N counters (atomics), so it lives in the shared Config.
class FaultPlan {
 public:
  // Reads one option ("fault_rcpt", "fault_mail_delay", "fault_disconnect", "fault_421"...)
  // whose text is not empty. False with `error` naming the option when it is malformed.
  bool set(std::string_view option, std::string_view text, std::string* error);

  bool any() const { return any_; }
  // What to do at `stage` this time. Order: disconnect, then 421, then another reply code; a
  // delay applies to whichever reply goes out.
  Fault decide(Stage stage, SplitMix64& rng) const;

  // The names of every fault option (for the schema and for reading them).
  static const std::array<const char*, 2 * static_cast<size_t>(Stage::kCount) + 2>& optionNames();

 private:
  struct StageRules {
    FaultRule reply;       // fault_<stage>: a reply code
    FaultRule delay;       // fault_<stage>_delay: milliseconds
    FaultRule disconnect;  // from fault_disconnect
    FaultRule close421;    // from fault_421
    bool any = false;
  };
  std::array<StageRules, static_cast<size_t>(Stage::kCount)> stages_;
  bool any_ = false;
};

// Parses a percentage, "10", "2.5" or "0.0001" (0 to 100, at most four decimals), into ppm.
bool parsePercent(std::string_view text, uint32_t* ppm);

}  // namespace portd::handlers::smtp
