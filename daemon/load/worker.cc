#include "load/worker.h"

#include <netinet/in.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "load/dns_codec.h"
#include "load/resp_codec.h"

namespace portd::load {

namespace {

constexpr uint64_t kSweepMs = 20;
constexpr uint64_t kPublishNs = 1'000'000'000;
constexpr uint64_t kRetryNs = 100'000'000;  // after a failed connect

uint64_t toMicros(uint64_t ns) { return (ns + 500) / 1000; }

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

ErrorKind connectError(int status) {
  switch (status) {
    case UV_ECONNREFUSED:
      return ErrorKind::kConnectRefused;
    case UV_ETIMEDOUT:
      return ErrorKind::kConnectTimeout;
    default:
      return ErrorKind::kConnectOther;
  }
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
    uv_udp_init(&loop_, &c.udp);
    c.udp.data = &c;
    ++open_handles_;
    int rc = uv_udp_connect(&c.udp, addr);
    if (rc == 0) {
      // Answers that come while this thread is busy wait in the socket's receive buffer. The
      // default (net.core.rmem_default, 208 KiB) holds only a few hundred small datagrams once
      // the kernel's overhead per datagram is counted, a few milliseconds' worth at tens of
      // thousands a second, and what overflows would be counted as lost, as if the target had
      // dropped it. 4 MiB, or what net.core.rmem_max allows; without it the run goes on.
      int size = 4 << 20;
      uv_recv_buffer_size(reinterpret_cast<uv_handle_t*>(&c.udp), &size);
      rc = uv_udp_recv_start(&c.udp, &onAlloc, &onUdpRead);
    }
    if (rc != 0) {
      recordError(ErrorKind::kConnectOther);
      closeConn(c, true);
      return;
    }
    c.state = Conn::State::kUp;
    ++counters_.connections;
    if (receiving()) {
      subscribe(c, now());
    }
    return;
  }
  uv_tcp_init(&loop_, &c.tcp);
  c.tcp.data = &c;
  ++open_handles_;
  uv_tcp_nodelay(&c.tcp, 1);
  c.connect_req.data = &c;
  c.state = Conn::State::kConnecting;
  int rc = uv_tcp_connect(&c.connect_req, &c.tcp, addr, &onConnect);
  if (rc != 0) {
    recordError(connectError(rc));
    closeConn(c, true);
  }
}

void LoadWorker::onConnect(uv_connect_t* req, int status) {
  auto& c = *static_cast<Conn*>(req->data);
  LoadWorker& w = *c.worker;
  if (status == UV_ECANCELED || c.state != Conn::State::kConnecting) {
    return;  // closed meanwhile (a connect timeout, the end of the run): already counted
  }
  if (status != 0) {
    w.recordError(connectError(status));
    w.closeConn(c, true);
    return;
  }
  c.state = Conn::State::kUp;
  c.failed_connect = false;
  ++w.counters_.connections;
  w.histograms_.connect.record(static_cast<int64_t>(toMicros(w.now() - c.connect_start_ns)));
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c.tcp), &onAlloc, &onRead);
  if (w.finishing_ || w.receiving()) {
    return;  // a source's stream starts on its own
  }
  c.codec->takeOutput(c.out);
  c.dirty = !c.out.empty();
  if (w.schedule_ != nullptr) {
    w.issue();
  } else {
    w.fill(c);
    w.flush(c);
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

void LoadWorker::requeue(Conn& c) {
  counters_.sent -= c.count;
  if (schedule_ != nullptr) {
    for (size_t i = 0; i < c.count; ++i) {
      retry_.push_back(c.ring[(c.head + i) % c.ring.size()].intended_ns);
    }
  }
  c.head = c.count = 0;
}

void LoadWorker::failOutstanding(Conn& c, ErrorKind kind) {
  if (c.count > 0) {
    recordError(kind, c.count);
  }
  c.head = c.count = 0;
}

// ---- requests

bool LoadWorker::canTake(const Conn& c) const {
  // Nothing more for a connection that is ending: its target said it closes, or its codec
  // finishes a session of its own (SMTP's QUIT) before the worker closes it.
  return c.state == Conn::State::kUp && c.count < c.ring.size() &&
         (options_.churn == 0 || c.issued < options_.churn) && c.closing_since_ns == 0 &&
         !c.codec->peerCloses();
}

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

void LoadWorker::sendOn(Conn& c, uint64_t intended_ns, uint64_t now_ns) {
  c.codec->request(c.out);
  c.ring[(c.head + c.count) % c.ring.size()] = InFlight{intended_ns, now_ns};
  ++c.count;
  ++c.issued;
  ++counters_.sent;
  c.dirty = true;
}

bool LoadWorker::sendDatagram(Conn& c, uint64_t intended_ns, uint64_t now_ns) {
  const uint64_t seq = next_seq_++;
  const bool local = !c.seq_map.empty();
  const size_t len = dgram_codec_->request(datagram_.data(), datagram_.size(),
                                           local ? c.next_local : seq, intended_ns, now_ns);
  uv_buf_t buf = uv_buf_init(datagram_.data(), static_cast<unsigned>(len));
  int rc = uv_udp_try_send(&c.udp, &buf, 1, nullptr);
  if (rc < 0) {
    // A full socket buffer, or an ICMP error reported on the connected socket (nobody
    // listens): the open model's request is lost on our side, counted as such; the closed
    // model tries again when an answer or the sweep makes room.
    if (schedule_ != nullptr) {
      recordError(ErrorKind::kLost);
    }
    return false;
  }
  if (local) {
    // Numbered only once sent: the target sees no gap for a datagram that never left.
    c.seq_map[c.next_local % c.seq_map.size()] = seq;
    ++c.next_local;
  }
  const uint64_t pushed_out = tracker_.sent(seq, intended_ns, now_ns);
  if (pushed_out > 0) {
    recordError(ErrorKind::kLost, pushed_out);
  }
  ++counters_.sent;
  counters_.bytes_out += len;
  return true;
}

void LoadWorker::fill(Conn& c) {
  if (receiving()) {
    return;
  }
  if (udp()) {
    // Closed model: at most connections x pipeline datagrams outstanding per thread.
    const uint64_t window = conns_.size() * static_cast<uint64_t>(std::max(1, options_.pipeline));
    // One clock reading for the batch: the datagrams leave within microseconds of it.
    const uint64_t t = now();
    while (issuing(t) && c.state == Conn::State::kUp && tracker_.outstanding() < window) {
      if (!sendDatagram(c, t, t)) {
        break;  // the socket is full: no busy loop, the next answer or sweep fills again
      }
    }
    return;
  }
  if (options_.batch && c.count > 0) {
    return;  // the whole batch is answered first
  }
  // One clock reading for the requests rendered now: they leave in the same write.
  const uint64_t t = now();
  while (issuing(t) && canTake(c)) {
    sendOn(c, t, t);
  }
}

void LoadWorker::flushAll() {
  for (auto& c : conns_) {
    if (c->dirty) {
      flush(*c);
    }
  }
}

void LoadWorker::flush(Conn& c) {
  c.dirty = false;
  if (c.write_pending || c.out.empty() || c.state != Conn::State::kUp) {
    return;
  }
  uv_stream_t* s = reinterpret_cast<uv_stream_t*>(&c.tcp);
  uv_buf_t buf = uv_buf_init(c.out.data(), static_cast<unsigned>(c.out.size()));
  int n = uv_try_write(s, &buf, 1);
  if (n < 0 && n != UV_EAGAIN) {
    failOutstanding(c, ErrorKind::kClosed);
    closeConn(c, false);
    return;
  }
  const size_t written = n > 0 ? static_cast<size_t>(n) : 0;
  counters_.bytes_out += written;
  if (written == c.out.size()) {
    c.out.clear();
    return;
  }
  // The rest goes with uv_write(), from a buffer of its own so that new requests can be added
  // to `out` meanwhile.
  c.writing.assign(c.out, written);
  c.out.clear();
  buf = uv_buf_init(c.writing.data(), static_cast<unsigned>(c.writing.size()));
  c.write_req.data = &c;
  if (uv_write(&c.write_req, s, &buf, 1, &onWrite) == 0) {
    c.write_pending = true;
  } else {
    failOutstanding(c, ErrorKind::kClosed);
    closeConn(c, false);
  }
}

void LoadWorker::onWrite(uv_write_t* req, int status) {
  auto& c = *static_cast<Conn*>(req->data);
  LoadWorker& w = *c.worker;
  c.write_pending = false;
  if (status == UV_ECANCELED || c.state != Conn::State::kUp) {
    return;
  }
  if (status != 0) {
    w.failOutstanding(c, ErrorKind::kClosed);
    w.closeConn(c, false);
    return;
  }
  w.counters_.bytes_out += c.writing.size();
  c.writing.clear();
  w.flush(c);
}

// ---- answers

void LoadWorker::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto& c = *static_cast<Conn*>(h->data);
  // One buffer per thread: a read is handled before the next one is asked for.
  std::vector<char>& b = c.worker->read_buf_;
  *buf = uv_buf_init(b.data(), static_cast<unsigned>(b.size()));
}

void LoadWorker::Conn::onFirstByte() {
  if (first_byte_ns == 0) {
    first_byte_ns = worker->read_ns_;
  }
}

void LoadWorker::Conn::onResponse(int status) {
  LoadWorker& w = *worker;
  if (count == 0) {
    return;  // the codec reports answers only for requests sent; defensive
  }
  const InFlight f = ring[head];
  head = (head + 1) % ring.size();
  --count;
  w.countStatus(status);
  w.record(f.intended_ns, f.sent_ns, first_byte_ns, w.read_ns_);
  first_byte_ns = 0;
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

void LoadWorker::onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto& c = *static_cast<Conn*>(s->data);
  LoadWorker& w = *c.worker;
  if (nread == 0) {
    return;
  }
  // Every answer in this read arrived by now: one clock reading for all of them.
  w.read_ns_ = w.now();
  if (nread < 0 && w.receiving()) {
    w.onStreamClosed(c);
    return;
  }
  if (nread < 0) {
    // The target closed or reset the connection. An answer that ends where the connection
    // does (HTTP without a length) is complete now; what is still outstanding is lost.
    if (nread == UV_EOF) {
      c.codec->finish(c);
    }
    w.failOutstanding(c, ErrorKind::kClosed);
    w.closeConn(c, false);
    return;
  }
  w.counters_.bytes_in += static_cast<uint64_t>(nread);
  if (w.receiving()) {
    if (w.onStreamBytes(c, std::string_view(buf->base, static_cast<size_t>(nread)), w.read_ns_)) {
      w.maybeFinish();
    }
    return;
  }
  const Codec::Read r = c.codec->read(std::string_view(buf->base, static_cast<size_t>(nread)), c);
  if (r != Codec::Read::kOk) {
    const ErrorKind kind = r == Codec::Read::kMismatch     ? ErrorKind::kMismatch
                           : r == Codec::Read::kBadFraming ? ErrorKind::kFraming
                                                           : ErrorKind::kMalformed;
    w.recordError(kind, std::max<uint64_t>(c.count, 1));
    c.head = c.count = 0;
    w.closeConn(c, false);
    return;
  }
  c.codec->takeOutput(c.out);
  c.dirty = c.dirty || !c.out.empty();
  if (c.codec->peerCloses() && c.count > 0) {
    // The target answered "Connection: close" with requests pipelined behind that answer: it
    // will not process them (nginx does so after keepalive_requests), and a client must be
    // ready to send them again (RFC 9112 9.3.2). They go again on another connection, with
    // their intended times: not errors, and not counted twice.
    w.requeue(c);
  }
  const bool churned = w.options_.churn > 0 && c.issued >= w.options_.churn;
  if ((c.codec->peerCloses() || churned) && c.count == 0) {
    if (c.codec->canClose()) {
      w.closeConn(c, false);  // replaced at once: not an error
    } else {
      // The codec ends its session first (SMTP: QUIT, then the 221): what it queued goes out,
      // and the connection closes at the answer's read, or at the sweep after --timeout.
      if (c.closing_since_ns == 0) {
        c.closing_since_ns = w.now();
      }
      w.flush(c);
    }
  } else if (!w.finishing_) {
    if (w.schedule_ != nullptr) {
      w.issue();
      return;
    }
    w.fill(c);
    w.flush(c);
  }
  w.maybeFinish();
}

void LoadWorker::onUdpRead(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr*,
                           unsigned) {
  auto& c = *static_cast<Conn*>(h->data);
  LoadWorker& w = *c.worker;
  if (nread <= 0) {
    return;  // nothing, or an ICMP error for an earlier datagram: counted as lost by timeout
  }
  w.counters_.bytes_in += static_cast<uint64_t>(nread);
  const uint64_t t = w.now();
  if (w.receiving()) {
    w.onStreamDatagram(c, std::string_view(buf->base, static_cast<size_t>(nread)), t);
    return;
  }
  uint64_t seq = 0;
  int status = 0;
  if (!w.dgram_codec_->answer(std::string_view(buf->base, static_cast<size_t>(nread)), &seq,
                              &status)) {
    w.recordError(ErrorKind::kMalformed);
    return;
  }
  if (!c.seq_map.empty()) {
    // The socket's number back to the thread's: only one of the last seq_map.size() sent.
    if (seq >= c.next_local || c.next_local - seq > c.seq_map.size()) {
      w.recordError(ErrorKind::kMalformed);
      return;
    }
    seq = c.seq_map[seq % c.seq_map.size()];
  }
  const unsigned bits = w.dgram_codec_->seqBits();
  if (bits < 64) {
    seq = w.tracker_.fromLowBits(seq, bits);
  }
  uint64_t intended_ns = 0;
  uint64_t sent_ns = 0;
  switch (w.tracker_.answered(seq, t, &intended_ns, &sent_ns)) {
    case DatagramTracker::Answer::kFirst:
      // Reordering is of one socket's answers, as a network path reorders one flow: across
      // sockets, answers interleave in any order.
      if (c.answered_any && seq < c.highest_answered) {
        ++w.counters_.reordered;
      }
      if (!c.answered_any || seq > c.highest_answered) {
        c.highest_answered = seq;
        c.answered_any = true;
      }
      w.countStatus(status);
      w.record(intended_ns, sent_ns, 0, t);
      break;
    case DatagramTracker::Answer::kDuplicate:
      ++w.counters_.duplicates;
      break;
    case DatagramTracker::Answer::kLate:
      ++w.counters_.late;
      break;
    case DatagramTracker::Answer::kUnknown:
      w.recordError(ErrorKind::kMalformed);
      break;
  }
  if (!w.finishing_ && w.schedule_ == nullptr) {
    w.fill(c);
  }
  w.maybeFinish();
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
