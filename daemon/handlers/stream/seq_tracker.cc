#include "handlers/stream/seq_tracker.h"

#include <algorithm>

namespace portd::handlers::stream {

void SeqTracker::add(uint64_t seq, uint64_t bytes, int64_t send_ns, int64_t arrival_ns) {
  stats_.bytes += bytes;
  if (!started_) {
    started_ = true;
    low_ = seq;
    next_ = seq;
  }
  const uint64_t floor = next_ > kWindow ? next_ - kWindow : 0;
  if (seq >= next_ && seq != UINT64_MAX) {
    advance(seq + 1);
  } else if (seq < floor || seq >= next_) {
    ++stats_.late;
    return;
  } else if (test(seq)) {
    ++stats_.duplicated;
    return;
  } else {
    ++stats_.reordered;
    // A stream joined after its start: what arrives below the first number seen extends it
    // downwards (the slots below low_ are clear: nothing was ever set there).
    low_ = std::min(low_, seq);
  }
  set(seq);
  ++stats_.received;
  jitter(send_ns, arrival_ns);
}

void SeqTracker::advance(uint64_t next) {
  const uint64_t old_floor = std::max(next_ > kWindow ? next_ - kWindow : 0, low_);
  const uint64_t new_floor = next > kWindow ? next - kWindow : 0;
  if (new_floor > old_floor) {
    // Sequence numbers in [old_floor, new_floor) leave the window: those of them that were in
    // it (below next_) are lost unless seen; those never in it (a jump) are simply lost.
    const uint64_t leaving_end = std::min(new_floor, next_);
    if (leaving_end - old_floor >= kWindow) {
      // The whole window leaves: count its clear bits once instead of slot by slot.
      uint64_t seen = 0;
      for (uint64_t w : bits_) {
        seen += static_cast<uint64_t>(__builtin_popcountll(w));
      }
      stats_.lost += (next_ - old_floor) - seen;
      bits_.fill(0);
    } else {
      for (uint64_t s = old_floor; s < leaving_end; ++s) {
        if (!test(s)) {
          ++stats_.lost;
        }
        clear(s);
      }
    }
    if (new_floor > next_) {
      stats_.lost += new_floor - next_;
    }
    low_ = std::max(low_, new_floor);
  }
  next_ = next;
}

void SeqTracker::jitter(int64_t send_ns, int64_t arrival_ns) {
  // RFC 3550 section 6.4.1: D is the change of the transit time between two packets in the
  // order they arrived, and J += (|D| - J) / 16.
  const int64_t transit = arrival_ns - send_ns;
  if (have_transit_) {
    const int64_t d = transit - last_transit_;
    const double abs_d = static_cast<double>(d < 0 ? -d : d);
    stats_.jitter_ns += (abs_d - stats_.jitter_ns) / 16.0;
  }
  have_transit_ = true;
  last_transit_ = transit;
}

void SeqTracker::finish() {
  if (!started_) {
    return;
  }
  const uint64_t floor = std::max(next_ > kWindow ? next_ - kWindow : 0, low_);
  for (uint64_t s = floor; s < next_; ++s) {
    if (!test(s)) {
      ++stats_.lost;
    }
  }
  bits_.fill(0);
  low_ = next_;
  started_ = false;
}

}  // namespace portd::handlers::stream
