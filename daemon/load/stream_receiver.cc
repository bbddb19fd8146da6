#include "load/stream_receiver.h"

#include <algorithm>
#include <cmath>

namespace portd::load {

void ReceiveTracker::reset() {
  std::fill(bits_.begin(), bits_.end(), 0);
  next_ = received_ = duplicated_ = reordered_ = late_ = lost_ = 0;
  have_transit_ = false;
  last_transit_ = 0;
  jitter_ = 0;
}

uint64_t ReceiveTracker::advance(uint64_t to) {
  uint64_t lost = 0;
  const uint64_t window_low = next_ > kWindow ? next_ - kWindow : 0;
  const uint64_t new_low = to > kWindow ? to - kWindow : 0;
  // What was in the window and leaves it unseen.
  for (uint64_t s = window_low; s < std::min(new_low, next_); ++s) {
    lost += test(s) ? 0 : 1;
  }
  // A jump of more than the window: what lies between was never in it.
  if (new_low > next_) {
    lost += new_low - next_;
  }
  for (uint64_t s = std::max(next_, new_low); s < to; ++s) {
    clear(s);
  }
  next_ = to;
  lost_ += lost;
  return lost;
}

ReceiveTracker::Arrival ReceiveTracker::add(uint64_t seq, uint64_t send_ns, uint64_t arrival_ns,
                                            uint64_t* lost) {
  *lost = 0;
  if (seq >= next_) {
    // UINT64_MAX has no next: it cannot be a source's (numbers from 0), so it is late.
    if (seq == UINT64_MAX) {
      ++late_;
      return Arrival::kLate;
    }
    *lost = advance(seq + 1);
  } else if (seq + kWindow < next_) {
    ++late_;  // given up on when it left the window (or a duplicate of one that did)
    return Arrival::kLate;
  } else if (test(seq)) {
    ++duplicated_;
    return Arrival::kDuplicate;
  } else {
    ++reordered_;
  }
  set(seq);
  ++received_;
  // RFC 3550 A.8: J += (|D| - J) / 16, D the change in transit time between two arrivals.
  // In unsigned arithmetic: the send time is the server's, any 64 bits, and the difference of
  // two transits wraps rather than overflows.
  const uint64_t transit = arrival_ns - send_ns;
  if (have_transit_) {
    const double d = std::fabs(static_cast<double>(static_cast<int64_t>(transit - last_transit_)));
    jitter_ += (d - jitter_) / 16.0;
  }
  last_transit_ = transit;
  have_transit_ = true;
  return Arrival::kFirst;
}

uint64_t ReceiveTracker::finish() {
  uint64_t lost = 0;
  for (uint64_t s = next_ > kWindow ? next_ - kWindow : 0; s < next_; ++s) {
    lost += test(s) ? 0 : 1;
  }
  lost_ += lost;
  return lost;
}

}  // namespace portd::load
