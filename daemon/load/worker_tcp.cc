// LoadWorker over TCP: a connection's connect, its requests rendered by its codec into one
// buffer and written once per fill, the pipeline's ring of outstanding requests, and the
// answers its codec reads back (a target's "Connection: close" included).

#include <algorithm>

#include "load/worker.h"

namespace portd::load {

namespace {

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

void LoadWorker::connectTcp(Conn& c, const sockaddr* addr) {
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

void LoadWorker::requeue(Conn& c) {
  counters_.sent -= c.count;
  if (schedule_ != nullptr) {
    for (size_t i = 0; i < c.count; ++i) {
      retry_.push_back(c.ring[(c.head + i) % c.ring.size()].intended_ns);
    }
  }
  c.head = c.count = 0;
}

bool LoadWorker::canTake(const Conn& c) const {
  // Nothing more for a connection that is ending: its target said it closes, or its codec
  // finishes a session of its own (SMTP's QUIT) before the worker closes it.
  return c.state == Conn::State::kUp && c.count < c.ring.size() &&
         (options_.churn == 0 || c.issued < options_.churn) && c.closing_since_ns == 0 &&
         !c.codec->peerCloses();
}

void LoadWorker::sendOn(Conn& c, uint64_t intended_ns, uint64_t now_ns) {
  c.codec->request(c.out);
  c.ring[(c.head + c.count) % c.ring.size()] = InFlight{intended_ns, now_ns};
  ++c.count;
  ++c.issued;
  ++counters_.sent;
  c.dirty = true;
}

void LoadWorker::fillTcp(Conn& c) {
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

}  // namespace portd::load
