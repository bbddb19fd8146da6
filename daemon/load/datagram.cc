#include "load/datagram.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace portd::load {

namespace {

constexpr char kMagic[4] = {'P', 'D', 'L', 'G'};

void put64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  }
}

uint64_t get64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  }
  return v;
}

}  // namespace

void writeDatagramHeader(char* out, const DatagramHeader& h) {
  std::memcpy(out, kMagic, 4);
  out[4] = 1;
  out[5] = out[6] = out[7] = 0;
  put64(out + 8, h.seq);
  put64(out + 16, h.intended_ns);
  put64(out + 24, h.sent_ns);
}

bool readDatagramHeader(std::string_view in, DatagramHeader* h) {
  if (in.size() < kDatagramHeader || std::memcmp(in.data(), kMagic, 4) != 0 || in[4] != 1) {
    return false;
  }
  h->seq = get64(in.data() + 8);
  h->intended_ns = get64(in.data() + 16);
  h->sent_ns = get64(in.data() + 24);
  return true;
}

size_t EchoDatagramCodec::request(char* buf, size_t capacity, uint64_t seq, uint64_t intended_ns,
                                  uint64_t sent_ns) {
  if (capacity < kDatagramHeader) {
    return 0;
  }
  const size_t n = std::min(size_, capacity);
  // The padding is whatever the buffer held: only the header is read back.
  writeDatagramHeader(buf, DatagramHeader{seq, intended_ns, sent_ns});
  return n;
}

bool EchoDatagramCodec::answer(std::string_view in, uint64_t* seq, int* status) {
  DatagramHeader h;
  if (!readDatagramHeader(in, &h)) {
    return false;
  }
  *seq = h.seq;
  *status = 0;
  return true;
}

DatagramTracker::DatagramTracker(size_t window)
    : slots_(std::bit_ceil(std::max<size_t>(window, 2))), mask_(slots_.size() - 1) {}

uint64_t DatagramTracker::sent(uint64_t seq, uint64_t intended_ns, uint64_t sent_ns) {
  Slot& s = slot(seq);
  uint64_t lost = 0;
  if (s.waiting) {
    // The window wrapped over a datagram still waiting: it is a window old, so lost.
    --outstanding_;
    lost = 1;
  }
  s = Slot{seq, intended_ns, sent_ns, true, false};
  ++outstanding_;
  if (seq + 1 > next_) {
    next_ = seq + 1;
  }
  return lost;
}

uint64_t DatagramTracker::fromLowBits(uint64_t low, unsigned bits) const {
  if (next_ == 0 || bits >= 64) {
    return low;
  }
  const uint64_t mask = (uint64_t{1} << bits) - 1;
  const uint64_t highest = next_ - 1;
  return highest - ((highest - low) & mask);
}

DatagramTracker::Answer DatagramTracker::answered(uint64_t seq, uint64_t now_ns,
                                                  uint64_t* intended_ns, uint64_t* sent_ns) {
  Slot& s = slot(seq);
  if (s.seq != seq || seq >= next_) {
    return Answer::kUnknown;  // not sent by us, or fell out of the window
  }
  Answer a;
  if (s.waiting) {
    // Reordering is of first answers: a duplicate or late one is counted as such only.
    if (any_answered_ && seq < highest_answered_) {
      ++reordered_;
    }
    if (!any_answered_ || seq > highest_answered_) {
      highest_answered_ = seq;
    }
    any_answered_ = true;
    s.waiting = false;
    s.answered = true;
    --outstanding_;
    a = Answer::kFirst;
    *intended_ns = s.intended_ns;
    *sent_ns = s.sent_ns;
    // RFC 3550 A.8: J += (|D| - J) / 16, D the change in transit time between two answers.
    const int64_t transit = static_cast<int64_t>(now_ns - s.sent_ns);
    if (have_transit_) {
      const double d = std::fabs(static_cast<double>(transit - last_transit_));
      jitter_ += (d - jitter_) / 16.0;
    }
    last_transit_ = transit;
    have_transit_ = true;
  } else {
    a = s.answered ? Answer::kDuplicate : Answer::kLate;
  }
  return a;
}

uint64_t DatagramTracker::expire(uint64_t before_ns) {
  uint64_t lost = 0;
  // What the window no longer holds was counted when it was pushed out.
  if (next_ > slots_.size() && oldest_ < next_ - slots_.size()) {
    oldest_ = next_ - slots_.size();
  }
  // Datagrams are sent in order of time, so the oldest waiting ones come first.
  while (oldest_ < next_) {
    Slot& s = slot(oldest_);
    if (s.seq == oldest_ && s.waiting) {
      if (s.sent_ns >= before_ns) {
        break;
      }
      s.waiting = false;
      --outstanding_;
      ++lost;
    }
    ++oldest_;
  }
  return lost;
}

}  // namespace portd::load
