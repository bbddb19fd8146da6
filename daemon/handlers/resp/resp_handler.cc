#include "handlers/resp/resp_handler.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <portd/handler.hpp>
#include <string>
#include <vector>

#include "handlers/resp/commands.h"
#include "handlers/resp/resp_config.h"

namespace portd::handlers::resp {

namespace {

// The output buffer starts at this and is given back when a large reply grew it past
// kOutRetained, so that one LRANGE of a long list does not hold memory for good.
constexpr size_t kOutInitial = 16 << 10;
constexpr size_t kOutRetained = 1 << 20;

class Resp;

// Per connection: what the parser needs to wait for, and a delayed reply with its timer.
struct ConnState {
  Resp* owner = nullptr;
  portd_conn_t id = 0;
  size_t need = 0;   // bytes the kept command needs before it is worth parsing again
  std::string held;  // a reply delayed by fault_delay
  portd_timer_t timer = 0;
  bool draining = false;
};

int64_t steadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class Resp {
 public:
  Resp(sdk::Worker w, const Config& c)
      : worker_(w),
        config_(c),
        own_store_(c.shared ? nullptr : std::make_unique<Store>(1, false, c.store_limits)),
        store_(c.shared ? c.shared_store.get() : own_store_.get()),
        parser_(c.limits),
        random_(c.knobs.seed != 0
                    ? c.knobs.seed + c.instances.fetch_add(1, std::memory_order_relaxed)
                    : static_cast<uint64_t>(
                          std::chrono::steady_clock::now().time_since_epoch().count()) ^
                          reinterpret_cast<uintptr_t>(&c) ^
                          (c.instances.fetch_add(1, std::memory_order_relaxed) << 32)),
        commands_(w.counter("commands")),
        errors_(w.counter("error_replies")),
        protocol_errors_(w.counter("protocol_errors")),
        oom_(w.counter("oom_replies")),
        oversized_(w.counter("oversized_requests")),
        fault_delays_(w.counter("fault_delays")),
        fault_errors_(w.counter("fault_errors")),
        fault_closes_(w.counter("fault_closes")) {
    info_.start_ms = steadyMs();
    info_.pid = static_cast<int>(::getpid());
    out_.reserve(kOutInitial);
    args_.reserve(64);
  }

  void onOpen(sdk::Conn c) {
    auto* st = new ConnState;
    st->owner = this;
    st->id = c.id();
    c.setData(st);
  }

  void onClose(sdk::Conn c) {
    auto* st = c.data<ConnState>();
    if (st == nullptr) {
      return;
    }
    if (st->timer != 0) {
      worker_.stopTimer(st->timer);
    }
    c.setData(nullptr);
    delete st;
  }

  // Between commands whenever a callback returns, so a draining connection can close now,
  // unless a delayed reply is still to go.
  void onDrain(sdk::Conn c) {
    auto* st = c.data<ConnState>();
    if (st != nullptr && st->timer != 0) {
      st->draining = true;
      return;
    }
    c.close();
  }

  // Kept commands come again after this, in onData.
  void onWritable(sdk::Conn) {}

  void onData(sdk::Conn c, std::string_view data) {
    auto* st = c.data<ConnState>();
    if (st == nullptr) {
      return;
    }
    if (st->need > data.size()) {
      keep(c, st, data.size(), st->need);
      return;
    }
    st->need = 0;
    const int64_t limit = c.writeLimit();
    // A command is held whole until it is complete, and portd holds at most the write limit of
    // it: a larger argument is refused when it is declared, like one over max_bulk_length.
    parser_.setMaxBulk(
        std::min<uint64_t>(config_.limits.max_bulk, limit > 0 ? static_cast<uint64_t>(limit) : 0));
    int64_t queued = c.queuedBytes();
    Context ctx{*store_, Reply(&out_), Clock(), info_, st->id};
    size_t pos = 0;
    while (pos < data.size()) {
      const RequestParser::Result r = parser_.parse(data.substr(pos), &args_);
      if (r.status == RequestParser::Status::kNeedMore) {
        if (flush(c)) {
          keep(c, st, data.size() - pos, r.need);
        }
        return;
      }
      if (r.status == RequestParser::Status::kError) {
        // As Redis: the answers so far, the error, then the connection closes.
        ctx.reply.error(r.error);
        worker_.add(protocol_errors_);
        worker_.add(errors_);
        if (flush(c)) {
          c.close();
        }
        return;
      }
      pos += r.used;
      if (args_.empty()) {
        continue;  // an empty line or "*0": nothing to answer
      }
      worker_.add(commands_);
      if (config_.knobs.any()) {
        const Fault f = drawFault();
        if (f == Fault::kClose) {
          worker_.add(fault_closes_);
          if (flush(c)) {
            c.close();
          }
          return;
        }
        if (f == Fault::kError) {
          worker_.add(fault_errors_);
          worker_.add(errors_);
          ctx.reply.error(config_.knobs.error_reply);
          continue;
        }
        if (f == Fault::kDelay) {
          delay(c, st, ctx, data.size() - pos);
          return;
        }
      }
      run(ctx);
      if (ctx.close_after) {
        if (flush(c)) {
          c.close();
        }
        return;
      }
      if (pos < data.size() && queued + static_cast<int64_t>(out_.size()) > limit) {
        // Enough for the peer's buffer: send it, and if the peer is not taking it, hold the
        // rest of the commands until portd says it is writable again.
        if (!flush(c)) {
          return;
        }
        queued = c.queuedBytes();
        if (queued > limit && c.keep(data.size() - pos) == PORTD_OK) {
          return;
        }
      }
    }
    flush(c);
  }

  void delayDone(ConnState* st) {
    st->timer = 0;
    const bool draining = st->draining;
    sdk::Conn c(worker_.host(), st->id);
    std::string held;
    held.swap(st->held);
    c.write(held);  // may close the connection and free st
    if (!c.isOpen()) {
      return;
    }
    if (draining) {
      c.close();
    } else {
      c.resumeReading();  // the commands kept behind the delayed one come again
    }
  }

 private:
  enum class Fault { kNone, kClose, kError, kDelay };

  Fault drawFault() {
    const FaultKnobs& k = config_.knobs;
    if (random_.chance(k.close_ppm)) {
      return Fault::kClose;
    }
    if (random_.chance(k.error_ppm)) {
      return Fault::kError;
    }
    if (random_.chance(k.delay_ppm)) {
      return Fault::kDelay;
    }
    return Fault::kNone;
  }

  void run(Context& ctx) {
    const size_t before = out_.size();
    execute(ctx, args_);
    if (out_.size() > before && out_[before] == '-') {
      worker_.add(errors_);
      if (out_.compare(before, 4, "-OOM") == 0) {
        worker_.add(oom_);
      }
    }
  }

  // The replies before this command go now; its own waits fault_delay, and reading pauses so
  // that the commands behind it are answered after it, in order.
  void delay(sdk::Conn c, ConnState* st, Context& ctx, size_t rest) {
    worker_.add(fault_delays_);
    if (!flush(c)) {
      return;
    }
    run(ctx);
    st->held.assign(out_);
    out_.clear();
    if (rest > 0 && c.keep(rest) != PORTD_OK) {
      worker_.add(oversized_);
      c.close();
      return;
    }
    c.pauseReading();
    st->timer = worker_.startTimer(
        config_.knobs.delay_ms,
        [](void* arg) {
          auto* s = static_cast<ConnState*>(arg);
          s->owner->delayDone(s);
        },
        st);
    if (st->timer == 0) {
      delayDone(st);  // no timer to be had: answer now rather than never
    } else if (ctx.close_after) {
      st->draining = true;
    }
  }

  // Keeps the unanswered tail of the input for the next onData. A command larger than portd
  // will hold (the write limit) cannot complete: the connection closes, as Redis closes one
  // whose query buffer passes its limit.
  void keep(sdk::Conn c, ConnState* st, size_t n, size_t need) {
    if (c.keep(n) != PORTD_OK) {
      worker_.add(oversized_);
      c.close();
      return;
    }
    st->need = need;
  }

  // One write for what the read produced; false when the connection is gone.
  bool flush(sdk::Conn c) {
    if (!out_.empty()) {
      c.write(out_);
      out_.clear();
      if (out_.capacity() > kOutRetained) {
        std::string().swap(out_);
        out_.reserve(kOutInitial);
      }
    }
    return c.isOpen();
  }

  sdk::Worker worker_;
  const Config& config_;
  std::unique_ptr<Store> own_store_;
  Store* store_;
  RequestParser parser_;
  std::vector<std::string_view> args_;
  std::string out_;
  ServerInfo info_;
  Random random_;
  int commands_;
  int errors_;
  int protocol_errors_;
  int oom_;
  int oversized_;
  int fault_delays_;
  int fault_errors_;
  int fault_closes_;
};

const portd_handler_def kResp = sdk::makeHandler<Config, Resp>(
    "resp", "a Redis-protocol (RESP2) responder with an in-memory store", PORTD_TCP, kOptions,
    kOptionCount);

}  // namespace

const portd_handler_def& definition() { return kResp; }

}  // namespace portd::handlers::resp
