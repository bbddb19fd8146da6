#include "handlers/smtp/faults.h"

#include <charconv>

#include "config/duration.h"

namespace portd::handlers::smtp {

namespace {

constexpr std::array<std::string_view, static_cast<size_t>(Stage::kCount)> kStageNames{
    "greeting", "ehlo", "mail", "rcpt", "data", "data_end", "quit"};

// The longest delay a fault may ask for: a test knob, not a way to park connections for hours.
constexpr uint64_t kMaxDelayMs = 5 * 60 * 1000;

bool parseUnsigned(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) {
    return false;
  }
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc{} && end == s.data() + s.size();
}

bool stageOf(std::string_view name, Stage* out) {
  for (size_t i = 0; i < kStageNames.size(); ++i) {
    if (kStageNames[i] == name) {
      *out = static_cast<Stage>(i);
      return true;
    }
  }
  return false;
}

// What a value of each kind of option is.
enum class ValueKind { kCode, kDelay, kStage };

bool parseValue(ValueKind kind, std::string_view text, int64_t* out, std::string* error) {
  switch (kind) {
    case ValueKind::kCode: {
      uint64_t code = 0;
      if (!parseUnsigned(text, &code) || code < 400 || code > 599) {
        *error = "invalid reply code \"" + std::string(text) + "\" (expected 400 to 599)";
        return false;
      }
      *out = static_cast<int64_t>(code);
      return true;
    }
    case ValueKind::kDelay: {
      auto d = config::parseDuration(text, error);
      if (!d) {
        return false;
      }
      if (d->count() <= 0 || static_cast<uint64_t>(d->count()) > kMaxDelayMs) {
        *error = "delay \"" + std::string(text) + "\" must be between 1ms and 5m";
        return false;
      }
      *out = d->count();
      return true;
    }
    case ValueKind::kStage: {
      Stage stage;
      if (!stageOf(text, &stage)) {
        *error = "unknown stage \"" + std::string(text) +
                 "\" (expected greeting, ehlo, mail, rcpt, data, data_end or quit)";
        return false;
      }
      *out = static_cast<int64_t>(stage);
      return true;
    }
  }
  return false;
}

// Parses "VALUE[:PERCENT|:every=N],..." and hands each entry to `add`, which may refuse it.
template <typename Add>
bool parseList(std::string_view option, std::string_view text, ValueKind kind, Add add,
               std::string* error) {
  const std::string prefix = std::string(option) + ": ";
  while (true) {
    const size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') {
      item.remove_prefix(1);
    }
    while (!item.empty() && item.back() == ' ') {
      item.remove_suffix(1);
    }
    if (item.empty()) {
      *error = prefix + "empty entry in the list";
      return false;
    }
    const size_t colon = item.find(':');
    FaultRule::Entry e;
    if (!parseValue(kind, item.substr(0, colon), &e.value, error)) {
      *error = prefix + *error;
      return false;
    }
    if (colon == std::string_view::npos) {
      e.ppm = kPpm;
    } else {
      const std::string_view how = item.substr(colon + 1);
      uint64_t n = 0;
      if (how.starts_with("every=")) {
        if (!parseUnsigned(how.substr(6), &n) || n < 1 || n > 1'000'000'000) {
          *error = prefix + "invalid \"" + std::string(how) + "\" (expected every=N, N from 1)";
          return false;
        }
        e.every = static_cast<uint32_t>(n);
      } else if (!parsePercent(how, &e.ppm)) {
        *error = prefix + "invalid percentage \"" + std::string(how) +
                 "\" (expected 0 to 100, e.g. 2.5, or every=N)";
        return false;
      }
    }
    if (!add(e)) {
      *error = prefix + "too many entries, or percentages adding up to more than 100";
      return false;
    }
    if (comma == std::string_view::npos) {
      return true;
    }
    text.remove_prefix(comma + 1);
  }
}

}  // namespace

bool parsePercent(std::string_view text, uint32_t* ppm) {
  const size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view fraction = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  uint64_t w = 0;
  uint64_t f = 0;
  if (!parseUnsigned(whole, &w) || w > 100 || fraction.size() > 4 ||
      (dot != std::string_view::npos && !parseUnsigned(fraction, &f))) {
    return false;
  }
  for (size_t i = fraction.size(); i < 4; ++i) {
    f *= 10;  // "2.5" is 2 and 5000 ten-thousandths
  }
  const uint64_t value = w * 10000 + f;
  if (value > kPpm) {
    return false;
  }
  *ppm = static_cast<uint32_t>(value);
  return true;
}

bool FaultRule::add(const Entry& e) {
  if (count_ == kMax || total_ppm_ + e.ppm > kPpm) {
    return false;
  }
  entries_[count_++] = e;
  total_ppm_ += e.ppm;
  has_every_ = has_every_ || e.every > 0;
  return true;
}

bool FaultRule::draw(SplitMix64& rng, int64_t* value) const {
  if (count_ == 0) {
    return false;
  }
  if (has_every_) {
    const uint64_t n = asked_.fetch_add(1, std::memory_order_relaxed) + 1;
    for (size_t i = 0; i < count_; ++i) {
      if (entries_[i].every > 0 && n % entries_[i].every == 0) {
        *value = entries_[i].value;
        return true;
      }
    }
  }
  if (total_ppm_ > 0) {
    const uint32_t roll = rng.below(kPpm);
    uint32_t cumulative = 0;
    for (size_t i = 0; i < count_; ++i) {
      cumulative += entries_[i].ppm;
      if (entries_[i].ppm > 0 && roll < cumulative) {
        *value = entries_[i].value;
        return true;
      }
    }
  }
  return false;
}

std::string_view stageName(Stage stage) { return kStageNames[static_cast<size_t>(stage)]; }

const std::array<const char*, 2 * static_cast<size_t>(Stage::kCount) + 2>&
FaultPlan::optionNames() {
  static const std::array<const char*, 2 * static_cast<size_t>(Stage::kCount) + 2> kNames{
      "fault_greeting",       "fault_ehlo",       "fault_mail",       "fault_rcpt",
      "fault_data",           "fault_data_end",   "fault_quit",       "fault_greeting_delay",
      "fault_ehlo_delay",     "fault_mail_delay", "fault_rcpt_delay", "fault_data_delay",
      "fault_data_end_delay", "fault_quit_delay", "fault_disconnect", "fault_421"};
  return kNames;
}

bool FaultPlan::set(std::string_view option, std::string_view text, std::string* error) {
  auto markAny = [this](Stage s) {
    stages_[static_cast<size_t>(s)].any = true;
    any_ = true;
  };
  if (option == "fault_disconnect" || option == "fault_421") {
    const bool disconnect = option == "fault_disconnect";
    return parseList(
        option, text, ValueKind::kStage,
        [&](FaultRule::Entry e) {
          const auto stage = static_cast<Stage>(e.value);
          StageRules& r = stages_[static_cast<size_t>(stage)];
          e.value = 1;
          markAny(stage);
          return (disconnect ? r.disconnect : r.close421).add(e);
        },
        error);
  }
  std::string_view name = option;
  if (!name.starts_with("fault_")) {
    *error = std::string(option) + ": not a fault option";
    return false;
  }
  name.remove_prefix(6);
  const bool delay = name.ends_with("_delay");
  if (delay) {
    name.remove_suffix(6);
  }
  Stage stage;
  if (!stageOf(name, &stage)) {
    *error = std::string(option) + ": not a fault option";
    return false;
  }
  StageRules& r = stages_[static_cast<size_t>(stage)];
  markAny(stage);
  FaultRule& rule = delay ? r.delay : r.reply;
  return parseList(
      option, text, delay ? ValueKind::kDelay : ValueKind::kCode,
      [&](const FaultRule::Entry& e) { return rule.add(e); }, error);
}

Fault FaultPlan::decide(Stage stage, SplitMix64& rng) const {
  const StageRules& r = stages_[static_cast<size_t>(stage)];
  Fault f;
  if (!r.any) {
    return f;
  }
  int64_t v = 0;
  if (r.disconnect.draw(rng, &v)) {
    f.kind = Fault::Kind::kDisconnect;
    return f;
  }
  if (r.close421.draw(rng, &v)) {
    f.kind = Fault::Kind::kClose421;
  } else if (r.reply.draw(rng, &v)) {
    f.kind = Fault::Kind::kReply;
    f.code = static_cast<int>(v);
  }
  if (r.delay.draw(rng, &v)) {
    f.delay_ms = static_cast<uint64_t>(v);
  }
  return f;
}

}  // namespace portd::handlers::smtp
