// A connection's side of [listener.faults] (net/faults.h, docs/faults.md): the state made when
// a listener injects faults, and the faults on reads (resets, throttling, delays) and writes
// (pacing, resets) that Connection applies through it. The I/O itself is in connection.cc.

#include <sys/socket.h>
#include <uv.h>

#include <algorithm>
#include <memory>

#include "core/loop_context.h"
#include "net/connection.h"
#include "net/tcp_listener.h"

namespace portd::net {
ConnectionFaults* Connection::faultState() {
  if (!owner_.faultsOn()) {
    // Off, or turned off by a reload: a timer still pending finds no state and just resumes.
    faults_.reset();
    return nullptr;
  }
  if (!faults_ || faults_->generation != owner_.faultsGeneration()) {
    const FaultSettings& s = owner_.faults();
    auto f = std::make_unique<ConnectionFaults>();
    if (faults_) {
      *f = *faults_;  // counts, timers and pending resets carry over a change of settings
    } else {
      const uint64_t seed = s.seed != 0 ? s.seed : uv_hrtime();
      f->dice = FaultDice(seed ^ (id_ * 0x9E3779B97F4A7C15ull));
    }
    f->generation = owner_.faultsGeneration();
    const uint64_t now = uv_hrtime();
    f->read.reset(s.read_rate, now);
    f->write.reset(s.write_rate, now);
    faults_ = std::move(f);
  }
  return faults_.get();
}

bool Connection::applyReadFaults(std::string_view& data) {
  ConnectionFaults* f = faultState();
  if (f == nullptr) {
    return true;
  }
  const FaultSettings& s = owner_.faults();
  if (s.reset_after_bytes != 0) {
    const uint64_t left = s.reset_after_bytes - std::min(s.reset_after_bytes, f->bytes_in);
    if (data.size() >= left) {
      data = data.substr(0, left);
      f->reset_due = true;  // after the handler has had these bytes
    }
    f->bytes_in += data.size();
    if (data.empty()) {
      return false;
    }
  }
  if (f->read.enabled()) {
    const uint64_t now = uv_hrtime();
    f->read.available(now);
    f->read.take(data.size());
    if (f->read.available(now) == 0 && !f->reset_due) {
      countFault(FaultKind::kReadThrottle);
      pauseForFault((f->read.waitNs(f->read.burst()) + 999999) / 1000000);
    }
  }
  if (const uint32_t ms = f->dice.delayMs(s.delay); ms > 0 && !f->reset_due) {
    countFault(FaultKind::kDelay);
    // Kept with the input, and delivered with it when reading resumes.
    input_.append(data);
    pauseForFault(ms);
    return false;
  }
  return true;
}

void Connection::pauseForFault(uint64_t ms) {
  ConnectionFaults* f = faults_.get();
  // libuv's clock is the loop's, cached in whole milliseconds: refreshed and rounded up, so
  // that a fault's delay is never shorter than asked (it may be up to 1 ms longer).
  uv_update_time(ctx_.loop());
  ms += 1;
  const uint64_t at = uv_now(ctx_.loop()) + ms;
  if (paused_by_fault_ && f->resume_at_ms >= at) {
    return;  // already paused for longer
  }
  context().timers().stop(f->resume_timer);
  f->resume_timer =
      context().timers().start(ms, &onFaultResume, reinterpret_cast<void*>(id_), nullptr);
  f->resume_at_ms = at;
  paused_by_fault_ = true;
  updateReading();
}

void Connection::onFaultResume(void* id) {
  core::LoopContext* ctx = core::LoopContext::current();
  Connection* self = ctx ? ctx->connections().get(reinterpret_cast<uint64_t>(id)) : nullptr;
  if (self == nullptr || self->closing_) {
    return;
  }
  if (self->faults_) {
    self->faults_->resume_timer = 0;
  }
  self->paused_by_fault_ = false;
  self->updateReading();
  // What a delay held back, or the handler kept meanwhile, goes now.
  self->redeliverKept();
}

void Connection::pump() {
  ConnectionFaults* f = faultState();
  while (!write_blocked_ && !out_.empty() && !closing_) {
    if (f == nullptr || !f->write.enabled()) {
      if (flush()) {
        afterOutput();
      }
      return;
    }
    const uint64_t now = uv_hrtime();
    const uint64_t n = f->write.available(now);
    if (n == 0) {
      countFault(FaultKind::kWriteThrottle);
      f->pacing = true;
      const uint64_t wait = f->write.waitNs(std::min<uint64_t>(out_.size(), f->write.burst()));
      context().timers().start(std::max<uint64_t>((wait + 999999) / 1000000, 1), &onPace,
                               reinterpret_cast<void*>(id_), nullptr);
      return;
    }
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(n, out_.size()));
    f->write.take(chunk);
    if (!flush(chunk)) {
      return;
    }
    afterOutput();
    f = faultState();
  }
}

void Connection::onPace(void* id) {
  core::LoopContext* ctx = core::LoopContext::current();
  Connection* self = ctx ? ctx->connections().get(reinterpret_cast<uint64_t>(id)) : nullptr;
  if (self == nullptr || self->closing_) {
    return;
  }
  if (self->faults_) {
    self->faults_->pacing = false;
  }
  self->pump();
}

void Connection::resetNow() {
  if (fd_ >= 0) {
    // Linger on, for zero seconds: close() sends RST instead of FIN.
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  countFault(FaultKind::kReset);
  abort();
}

void Connection::countFault(FaultKind kind) { ++owner_.stats().faults[static_cast<size_t>(kind)]; }

}  // namespace portd::net
