// LoadWorker: the thread and its loop, what its TCP and UDP connections share (opening,
// closing, the read buffer), the sweep, the progress handed to the main thread and the run's
// end. Requests and their answers' accounting are in worker_requests.cc, the transports in
// worker_tcp.cc and worker_udp.cc, stream --subscribe in worker_receive.cc.

#include "load/worker.h"

#include <netinet/in.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <bit>

namespace portd::load {

namespace {

constexpr uint64_t kSweepMs = 20;
constexpr uint64_t kPublishNs = 1'000'000'000;
constexpr uint64_t kRetryNs = 100'000'000;  // after a failed connect

bool isLoopback(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(a);
    return (ntohl(in.sin_addr.s_addr) >> 24) == 127;
  }
  if (a.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(a).sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&in6)) {
      return true;
    }
    return IN6_IS_ADDR_V4MAPPED(&in6) && in6.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace

LoadWorker::LoadWorker(const LoadOptions& options, const Schedule* schedule, int index,
                       uint64_t start_ns, SharedProgress& shared, uv_async_t* done)
    : options_(options),
      schedule_(schedule),
      index_(index),
      threads_(std::max(1, options.threads)),
      start_ns_(start_ns),
      shared_(shared),
      done_(done),
      read_buf_(64 * 1024),
      dgram_codec_(makeDatagramCodec(options)),
      timeout_ns_(static_cast<uint64_t>(options.timeout_s * 1e9)),
      next_publish_ns_(start_ns + kPublishNs),
      loopback_(isLoopback(options.target.address)) {
  // This thread's share of the connections: the first ones get the remainder.
  const int total = options.connections > 0 ? options.connections : 10;
  const int mine = total / threads_ + (index_ < total % threads_ ? 1 : 0);
  for (int i = 0; i < std::max(mine, 1); ++i) {
    auto c = std::make_unique<Conn>();
    c->worker = this;
    c->ring.resize(static_cast<size_t>(std::max(1, options.pipeline)));
    if (!udp()) {
      c->codec = makeCodec(options);
    }
    if (options.subscribe) {
      c->rx = std::make_unique<Rx>();
      c->retry_at_ns = start_ns;  // connected (and so subscribed) when the run starts
    }
    conns_.push_back(std::move(c));
  }
  if (schedule_ != nullptr) {
    // At most every connection's pipeline is sent back at once; reserved so that a requeue
    // does not allocate.
    retry_.reserve(conns_.size() * static_cast<size_t>(std::max(1, options.pipeline)) * 2);
    total_ = schedule_->total();
    next_k_ = static_cast<uint64_t>(index_);
    end_ns_ = start_ns_ + static_cast<uint64_t>(schedule_->seconds() * 1e9);
  } else {
    end_ns_ = start_ns_ + static_cast<uint64_t>(options.duration_s * 1e9);
    if (options.requests > 0) {
      has_quota_ = true;
      quota_ = options.requests / static_cast<uint64_t>(threads_) +
               (static_cast<uint64_t>(index_) < options.requests % threads_ ? 1 : 0);
    }
  }
  if (udp()) {
    datagram_.assign(65536, 'u');
    if (dgram_codec_->perSocketSeq()) {
      // The thread's window of outstanding datagrams, shared out among its sockets.
      const size_t each = std::bit_ceil(std::max<size_t>(1024, tracker_.window() / conns_.size()));
      for (auto& c : conns_) {
        c->seq_map.assign(each, 0);
      }
    }
  }
}

LoadWorker::~LoadWorker() { join(); }

void LoadWorker::start() {
  thread_ = std::thread([this] { run(); });
}

void LoadWorker::join() {
  if (thread_.joinable()) {
    thread_.join();
  }
}

void LoadWorker::wake() {
  std::lock_guard<std::mutex> lock(wake_mutex_);
  if (wake_open_) {
    uv_async_send(&wake_);
  }
}

void LoadWorker::run() {
  uv_loop_init(&loop_);
  // CLOCK_MONOTONIC: the clock of uv_hrtime(), so due times need no conversion.
  tick_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  uv_poll_init(&loop_, &tick_, tick_fd_);
  uv_timer_init(&loop_, &sweep_timer_);
  uv_async_init(&loop_, &wake_, [](uv_async_t* a) {
    auto* self = static_cast<LoadWorker*>(a->data);
    if (self->shared_.stop.load()) {
      self->finish();
    }
  });
  tick_.data = sweep_timer_.data = wake_.data = this;
  open_handles_ = 3;
  {
    std::lock_guard<std::mutex> lock(wake_mutex_);
    wake_open_ = true;
  }
  // The async handle exists now: a stop asked before it did is seen here.
  if (shared_.stop.load()) {
    finish();
  } else {
    // Every thread starts at the common start time.
    uv_poll_start(&tick_, UV_READABLE, [](uv_poll_t* h, int, int) {
      auto* self = static_cast<LoadWorker*>(h->data);
      uint64_t expirations;
      if (::read(self->tick_fd_, &expirations, sizeof expirations) > 0) {
        self->issue();
      }
    });
    armTick(start_ns_);
    uv_timer_start(
        &sweep_timer_, [](uv_timer_t* h) { static_cast<LoadWorker*>(h->data)->sweep(); }, kSweepMs,
        kSweepMs);
    // A source starts its stream when a connection opens (TCP) or a subscribe comes (UDP):
    // receiving connections open at the common start, from issue(), so that the rate
    // received is over the run's time.
    for (auto& c : conns_) {
      if (!receiving()) {
        connect(*c);
      }
    }
  }
  if (options_.busy_poll) {
    while (uv_run(&loop_, UV_RUN_NOWAIT) != 0) {
    }
  } else {
    uv_run(&loop_, UV_RUN_DEFAULT);
  }
  uv_loop_close(&loop_);
  ::close(tick_fd_);
  shared_.finished.fetch_add(1);
  uv_async_send(done_);
}

// ---- connections

void LoadWorker::connect(Conn& c) {
  c.codec ? c.codec->reset() : void();
  c.out.clear();
  c.head = c.count = 0;
  c.issued = 0;
  c.first_byte_ns = 0;
  c.closing_since_ns = 0;
  c.next_local = 0;  // a new socket is a new source address: a new stream for the target
  c.answered_any = false;
  if (c.rx) {
    c.rx->subscribed = false;
    c.rx->cookie = 0;
  }
  c.connect_start_ns = now();
  const sockaddr* addr = reinterpret_cast<const sockaddr*>(&options_.target.address);
  if (udp()) {
    connectUdp(c, addr);
  } else {
    connectTcp(c, addr);
  }
}

void LoadWorker::closeConn(Conn& c, bool backoff) {
  if (c.state == Conn::State::kClosing || c.state == Conn::State::kDown) {
    return;
  }
  c.state = Conn::State::kClosing;
  c.failed_connect = backoff;
  uv_handle_t* h =
      udp() ? reinterpret_cast<uv_handle_t*>(&c.udp) : reinterpret_cast<uv_handle_t*>(&c.tcp);
  uv_close(h, &onClosed);
}

void LoadWorker::onClosed(uv_handle_t* h) {
  auto& c = *static_cast<Conn*>(h->data);
  LoadWorker& w = *c.worker;
  c.state = Conn::State::kDown;
  c.write_pending = false;
  c.writing.clear();
  --w.open_handles_;
  if (w.finishing_) {
    w.maybeFinish();
    return;
  }
  // A connection that failed to connect is retried after a pause (a refusing target must not
  // be hammered in a loop); one that worked is replaced at once.
  c.retry_at_ns = w.now() + (c.failed_connect ? kRetryNs : 0);
  if (!c.failed_connect) {
    w.connect(c);
  }
}

void LoadWorker::failOutstanding(Conn& c, ErrorKind kind) {
  if (c.count > 0) {
    recordError(kind, c.count);
  }
  c.head = c.count = 0;
}

void LoadWorker::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto& c = *static_cast<Conn*>(h->data);
  // One buffer per thread: a read is handled before the next one is asked for.
  std::vector<char>& b = c.worker->read_buf_;
  *buf = uv_buf_init(b.data(), static_cast<unsigned>(b.size()));
}

// ---- time

void LoadWorker::sweep() {
  const uint64_t t = now();
  for (auto& cp : conns_) {
    Conn& c = *cp;
    if (c.state == Conn::State::kConnecting && t - c.connect_start_ns > timeout_ns_) {
      recordError(ErrorKind::kConnectTimeout);
      closeConn(c, true);
    } else if (!udp() && c.state == Conn::State::kUp && c.count > 0 &&
               t - c.ring[c.head].sent_ns > timeout_ns_) {
      // No answer in time: the connection cannot be trusted to answer in order any more.
      failOutstanding(c, ErrorKind::kTimeout);
      closeConn(c, false);
    } else if (c.state == Conn::State::kUp && c.count == 0 && c.closing_since_ns != 0 &&
               t - c.closing_since_ns > timeout_ns_) {
      closeConn(c, false);  // no answer to what the codec sent on its own: not a request's error
    } else if (c.state == Conn::State::kDown && !finishing_ && c.retry_at_ns <= t) {
      connect(c);
    }
  }
  if (udp()) {
    const uint64_t lost = tracker_.expire(t > timeout_ns_ ? t - timeout_ns_ : 0);
    if (lost > 0) {
      recordError(ErrorKind::kLost, lost);
      if (schedule_ == nullptr && !finishing_) {
        fill(*conns_.front());
      }
    }
  }
  if (receiving() && !finishing_) {
    resubscribe(t);
  }
  publishIfDue(t);
  if (shared_.stop.load()) {
    finish();
    return;
  }
  // Open model: a thread whose connections were all busy or down re-checks what is due.
  if (schedule_ != nullptr) {
    issue();
  } else if (!finishing_) {
    if (!issuing()) {
      maybeFinish();
    } else if (udp()) {
      fill(*conns_.front());
    }
  }
}

void LoadWorker::publishIfDue(uint64_t now_ns) {
  if (now_ns < next_publish_ns_) {
    return;
  }
  publish();
  while (next_publish_ns_ <= now_ns) {
    next_publish_ns_ += kPublishNs;
  }
}

void LoadWorker::publish() {
  std::lock_guard<std::mutex> lock(shared_.mutex);
  shared_.interval.add(interval_);
  shared_.interval_completed += interval_completed_;
  shared_.interval_errors += interval_errors_;
  interval_.reset();
  interval_completed_ = 0;
  interval_errors_ = 0;
}

void LoadWorker::maybeFinish() {
  if (finishing_) {
    return;
  }
  const uint64_t t = now();
  const bool late = t > end_ns_ + timeout_ns_;
  // Requests still due but unsent (no connection would take them) are waited for as long as
  // an answer would be: a timeout past the end.
  if (t < start_ns_ || (moreToSend() && !late)) {
    return;
  }
  uint64_t outstanding = udp() ? tracker_.outstanding() : 0;
  for (auto& c : conns_) {
    outstanding += c->count;
  }
  if (outstanding == 0 || late) {
    finish();
  }
}

void LoadWorker::finish() {
  if (finishing_) {
    return;
  }
  finishing_ = true;
  const bool interrupted = shared_.stop.load();
  // Open model: at the end of the schedule, what was due and never sent (no connection could
  // take it) is an error. An interrupted run counts nothing it had not finished, queued here
  // or outstanding at the target, as an error: the run was cut, not the target (the
  // generator's lag histogram still shows a backlog).
  if (schedule_ != nullptr && !interrupted) {
    uint64_t unsent = retry_.size() - retry_head_;
    if (next_k_ < total_) {
      const auto step = static_cast<uint64_t>(threads_);
      unsent += (total_ - next_k_ + step - 1) / step;  // this thread's k = next_k_, +step, ...
    }
    recordError(ErrorKind::kUnsent, unsent);
  }
  if (!interrupted) {
    for (auto& c : conns_) {
      failOutstanding(*c, ErrorKind::kTimeout);
    }
    if (udp()) {
      recordError(ErrorKind::kLost, tracker_.expireAll());
    }
  }
  if (receiving()) {
    const uint64_t t = now();
    for (auto& c : conns_) {
      if (udp() && c->state == Conn::State::kUp && c->rx->subscribed) {
        sendControl(*c, kStreamUnsubscribe, 0, t);
      }
      endStream(*c);
    }
  }
  end_ns_ = now();
  publish();
  uv_poll_stop(&tick_);
  uv_timer_stop(&sweep_timer_);
  auto closed = [](uv_handle_t* h) { --static_cast<LoadWorker*>(h->data)->open_handles_; };
  uv_close(reinterpret_cast<uv_handle_t*>(&tick_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&sweep_timer_), closed);
  {
    std::lock_guard<std::mutex> lock(wake_mutex_);
    wake_open_ = false;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&wake_), closed);
  for (auto& c : conns_) {
    closeConn(*c, false);
  }
}

}  // namespace portd::load
