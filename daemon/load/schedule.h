#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace portd::load {

// One stage of an open-model run: `seconds` long, the arrival rate going linearly from
// `from_rate` to `to_rate` requests per second (equal for a hold).
struct Stage {
  double seconds = 0;
  double from_rate = 0;
  double to_rate = 0;
};

// Parses "10s@1000,30s@1000-5000,60s@5000": DURATION@RATE holds a rate, DURATION@A-B ramps
// linearly from A to B. Rates may be 0 (a pause) and need not be whole. Returns false with a
// message in *error.
bool parseStages(std::string_view text, std::vector<Stage>* out, std::string* error);

// The arrival schedule of an open-model run: when each request is meant to start, fixed in
// advance and independent of how the target answers. Request k (from 0) is due when the
// number of arrivals the rate function gives reaches k, so that a run of R/s for D s has R*D
// requests, due at 0, 1/R, 2/R, ... Evaluated on demand: no memory per request.
class Schedule {
 public:
  explicit Schedule(std::vector<Stage> stages);

  // Seconds from the start at which request k is due; a negative value when the schedule has
  // fewer than k+1 requests.
  double due(uint64_t k) const;
  // How many requests the whole schedule has.
  uint64_t total() const { return total_; }
  double seconds() const { return seconds_; }
  // The rate asked for at time t (seconds from the start).
  double rateAt(double t) const;
  const std::vector<Stage>& stages() const { return stages_; }

 private:
  std::vector<Stage> stages_;
  std::vector<double> start_count_;  // arrivals before each stage
  std::vector<double> start_time_;
  uint64_t total_ = 0;
  double seconds_ = 0;
};

}  // namespace portd::load
