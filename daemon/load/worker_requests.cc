// LoadWorker's requests, whatever the transport: whether the run has more for this thread,
// when the next one is due (the open model's schedule on the timerfd, the closed model's
// refills), which connection takes it, and how its answer is counted.

#include <sys/timerfd.h>

#include <algorithm>

#include "load/dns_codec.h"
#include "load/resp_codec.h"
#include "load/worker.h"

namespace portd::load {

bool LoadWorker::moreToSend(uint64_t t) const {
  if (finishing_) {
    return false;
  }
  if (schedule_ != nullptr) {
    return next_k_ < total_ || retry_head_ < retry_.size();
  }
  return t < end_ns_ && (!has_quota_ || counters_.sent < quota_);
}

bool LoadWorker::issuing(uint64_t t) const {
  // The closed model starts with the other threads at the common start, even if connected
  // earlier (the open model's schedule starts there by construction).
  return moreToSend(t) && t >= start_ns_;
}

void LoadWorker::issue() {
  if (finishing_) {
    return;
  }
  const uint64_t t = now();
  if (receiving()) {
    for (auto& c : conns_) {
      if (c->state == Conn::State::kDown && c->retry_at_ns <= t) {
        connect(*c);
      }
    }
    if (t < end_ns_) {
      armTick(end_ns_);  // the run ends on time, not at the next sweep
    }
    maybeFinish();
    return;
  }
  if (schedule_ == nullptr) {
    for (auto& c : conns_) {
      fill(*c);
    }
  } else {
    // Requests the target sent back unprocessed go first, with their intended times.
    while (retry_head_ < retry_.size() && sendOne(retry_[retry_head_], t)) {
      ++retry_head_;
    }
    if (retry_head_ == retry_.size()) {
      retry_.clear();
      retry_head_ = 0;
    }
    while (retry_.empty() && next_k_ < total_) {
      const double due = schedule_->due(next_k_);
      if (due < 0) {
        next_k_ = total_;
        break;
      }
      const uint64_t due_ns = start_ns_ + static_cast<uint64_t>(due * 1e9);
      if (due_ns > t) {
        armTick(due_ns);
        break;
      }
      if (!sendOne(due_ns, t)) {
        break;  // every connection is busy: the next answer or connect sends it, late
      }
      next_k_ += static_cast<uint64_t>(threads_);
    }
  }
  flushAll();
  maybeFinish();
}

void LoadWorker::armTick(uint64_t due_ns) {
  // Absolute time, so that the time spent getting here does not add to the wait. What lag
  // remains (the wake-up, a busy loop) is measured in histograms_.lag, not hidden.
  itimerspec when{};
  when.it_value.tv_sec = static_cast<time_t>(due_ns / 1'000'000'000);
  when.it_value.tv_nsec = static_cast<long>(due_ns % 1'000'000'000);
  if (when.it_value.tv_sec == 0 && when.it_value.tv_nsec == 0) {
    when.it_value.tv_nsec = 1;  // zero would disarm it
  }
  ::timerfd_settime(tick_fd_, TFD_TIMER_ABSTIME, &when, nullptr);
}

bool LoadWorker::sendOne(uint64_t intended_ns, uint64_t now_ns) {
  for (size_t i = 0; i < conns_.size(); ++i) {
    Conn& c = *conns_[(rr_ + i) % conns_.size()];
    if (udp() ? c.state == Conn::State::kUp : canTake(c)) {
      rr_ = (rr_ + i + 1) % conns_.size();
      if (udp()) {
        sendDatagram(c, intended_ns, now_ns);
      } else {
        sendOn(c, intended_ns, now_ns);
      }
      if (schedule_ != nullptr) {
        histograms_.lag.record(static_cast<int64_t>(toMicros(now_ns - intended_ns)));
      }
      return true;
    }
  }
  return false;
}

void LoadWorker::fill(Conn& c) {
  if (receiving()) {
    return;
  }
  if (udp()) {
    fillUdp(c);
  } else {
    fillTcp(c);
  }
}

void LoadWorker::record(uint64_t intended_ns, uint64_t sent_ns, uint64_t first_byte_ns,
                        uint64_t now_ns) {
  publishIfDue(now_ns);
  ++counters_.completed;
  const auto corrected = static_cast<int64_t>(toMicros(now_ns - std::min(intended_ns, now_ns)));
  histograms_.corrected.record(corrected);
  histograms_.uncorrected.record(
      static_cast<int64_t>(toMicros(now_ns - std::min(sent_ns, now_ns))));
  if (first_byte_ns != 0 && first_byte_ns >= sent_ns) {
    histograms_.first_byte.record(static_cast<int64_t>(toMicros(first_byte_ns - sent_ns)));
  }
  interval_.record(corrected);
  ++interval_completed_;
}

void LoadWorker::countStatus(int status) {
  if (options_.target.scheme == Scheme::kDns) {
    // Every answer has an RCODE, NOERROR (0) included.
    const int rcode = status & kDnsRcodeMask;
    ++counters_.rcode[std::min<size_t>(static_cast<size_t>(rcode), kRcodeSlots - 1)];
    if ((status & kDnsTruncated) != 0) {
      ++counters_.truncated;
    }
    return;
  }
  if (status <= 0) {
    return;
  }
  switch (options_.target.scheme) {
    case Scheme::kHttp: {
      const int cls = status / 100;
      ++counters_.status[cls >= 1 && cls <= 5 ? static_cast<size_t>(cls - 1) : 5];
      break;
    }
    case Scheme::kResp:
      if (status == kRespErrorReply) {
        ++counters_.resp_errors;
      }
      break;
    case Scheme::kSmtp: {
      // The codec reports only 2xx, 4xx and 5xx codes: a transaction ends on nothing else.
      const int cls = status / 100;
      if (cls == 2 || cls == 4 || cls == 5) {
        ++counters_.smtp_replies[cls == 2 ? 0 : cls == 4 ? 1 : 2];
      }
      break;
    }
    case Scheme::kTcp:
    case Scheme::kUdp:
    case Scheme::kDns:
    case Scheme::kStream:
    case Scheme::kStreamTcp:
      break;
  }
}

void LoadWorker::recordError(ErrorKind kind, uint64_t n) {
  counters_.error(kind) += n;
  interval_errors_ += n;
}

}  // namespace portd::load
