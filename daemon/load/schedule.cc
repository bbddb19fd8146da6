#include "load/schedule.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "config/duration.h"

namespace portd::load {

namespace {

bool parseRate(std::string_view text, double* out) {
  if (text.empty()) {
    return false;
  }
  if (text.ends_with("/s")) {
    text.remove_suffix(2);
  }
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v) || v < 0 ||
      v > 1e9) {
    return false;
  }
  *out = v;
  return true;
}

}  // namespace

bool parseStages(std::string_view text, std::vector<Stage>* out, std::string* error) {
  std::vector<Stage> stages;
  if (text.empty()) {
    *error = "no stages (expected e.g. \"10s@1000,30s@1000-5000\")";
    return false;
  }
  while (!text.empty()) {
    const size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    if (item.empty() || (comma != std::string_view::npos && comma + 1 == text.size())) {
      *error = "an empty stage (two commas, or one at either end)";
      return false;
    }
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const size_t at = item.find('@');
    if (at == std::string_view::npos) {
      *error = "stage \"" + std::string(item) + "\": expected DURATION@RATE or DURATION@FROM-TO";
      return false;
    }
    std::string why;
    auto d = config::parseDuration(item.substr(0, at), &why);
    if (!d || d->count() <= 0) {
      *error =
          "stage \"" + std::string(item) + "\": " + (d ? "the duration must be positive" : why);
      return false;
    }
    Stage s;
    s.seconds = static_cast<double>(d->count()) / 1000.0;
    std::string_view rates = item.substr(at + 1);
    const size_t dash = rates.find('-');
    if (!parseRate(rates.substr(0, dash), &s.from_rate) ||
        !parseRate(dash == std::string_view::npos ? rates.substr(0, dash) : rates.substr(dash + 1),
                   &s.to_rate)) {
      *error = "stage \"" + std::string(item) +
               "\": a rate is a number of requests per second from 0 to 1e9";
      return false;
    }
    stages.push_back(s);
    if (stages.size() > 1000) {
      *error = "more than 1000 stages";
      return false;
    }
  }
  *out = std::move(stages);
  return true;
}

Schedule::Schedule(std::vector<Stage> stages) : stages_(std::move(stages)) {
  double count = 0;
  double t = 0;
  for (const Stage& s : stages_) {
    start_count_.push_back(count);
    start_time_.push_back(t);
    count += (s.from_rate + s.to_rate) / 2 * s.seconds;
    t += s.seconds;
  }
  seconds_ = t;
  // Request k is due when the arrivals reach k: k = 0 .. ceil(count) - 1.
  total_ = static_cast<uint64_t>(std::ceil(count - 1e-9));
}

double Schedule::due(uint64_t k) const {
  if (k >= total_) {
    return -1;
  }
  const double n = static_cast<double>(k);
  // The first stage whose arrivals pass n (a pause has none and is never it).
  for (size_t i = 0; i < stages_.size(); ++i) {
    const Stage& s = stages_[i];
    const double stage_count = (s.from_rate + s.to_rate) / 2 * s.seconds;
    const double in_stage = n - start_count_[i];
    if (in_stage < stage_count) {
      // Arrivals within the stage: N(tau) = r0 tau + (r1 - r0) tau^2 / (2 D); solved for tau
      // in the form that stays exact when r1 == r0 and stable when r0 is 0.
      const double r0 = s.from_rate;
      const double slope = (s.to_rate - s.from_rate) / s.seconds;
      const double root = std::sqrt(std::max(0.0, r0 * r0 + 2 * slope * in_stage));
      const double tau = in_stage <= 0 ? 0 : 2 * in_stage / (r0 + root);
      return start_time_[i] + std::min(tau, s.seconds);
    }
  }
  return -1;  // rounding at the very end of the schedule
}

double Schedule::rateAt(double t) const {
  for (size_t i = 0; i < stages_.size(); ++i) {
    const Stage& s = stages_[i];
    if (t < start_time_[i] + s.seconds || i + 1 == stages_.size()) {
      const double f = std::clamp((t - start_time_[i]) / s.seconds, 0.0, 1.0);
      return s.from_rate + (s.to_rate - s.from_rate) * f;
    }
  }
  return 0;
}

}  // namespace portd::load
