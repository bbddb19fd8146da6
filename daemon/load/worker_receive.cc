// LoadWorker in stream --subscribe mode: each connection (UDP socket or TCP connection)
// receives a stream from portd's stream handler in source mode and accounts it, instead of
// sending requests. The rest of the worker (loop, connections, sweep, progress, the run's end)
// is the same as for requests.

#include <algorithm>

#include "load/worker.h"

namespace portd::load {

namespace {

// A subscribe (or its challenge) lost on the way is sent again after this long.
constexpr uint64_t kResubscribeNs = 100'000'000;

}  // namespace

void LoadWorker::sendControl(Conn& c, uint8_t flags, uint64_t seq, uint64_t now_ns) {
  char buf[kStreamHeader];
  writeStreamHeader(buf, StreamHeader{flags, seq, now_ns});
  uv_buf_t b = uv_buf_init(buf, sizeof buf);
  // A full socket buffer or an ICMP error: the sweep sends the subscribe again, and a lost
  // unsubscribe only lets the source run to its own end.
  if (uv_udp_try_send(&c.udp, &b, 1, nullptr) > 0) {
    counters_.bytes_out += sizeof buf;
  }
}

void LoadWorker::subscribe(Conn& c, uint64_t now_ns) {
  // The first subscribe carries no cookie (0): the source answers it with a challenge.
  sendControl(c, kStreamSubscribe, c.rx->cookie, now_ns);
  c.rx->subscribed = true;
  c.rx->subscribe_ns = now_ns;
}

void LoadWorker::resubscribe(uint64_t now_ns) {
  for (auto& c : conns_) {
    if (c->state == Conn::State::kUp && c->rx->subscribed && !c->rx->streaming &&
        now_ns - c->rx->subscribe_ns >= kResubscribeNs) {
      subscribe(*c, now_ns);
    }
  }
}

void LoadWorker::onStreamDatagram(Conn& c, std::string_view data, uint64_t now_ns) {
  StreamHeader h;
  if (!readStreamHeader(data, &h)) {
    recordError(ErrorKind::kMalformed);
    return;
  }
  if (h.flags == kStreamChallenge) {
    // Proof that we receive at our address: the cookie goes back in a subscribe. A challenge
    // once the stream runs is the answer to a subscribe that crossed it: nothing to do.
    if (!c.rx->streaming) {
      c.rx->cookie = h.seq;
      subscribe(c, now_ns);
    }
    return;
  }
  onStreamMessage(c, h, now_ns);
}

bool LoadWorker::onStreamBytes(Conn& c, std::string_view data, uint64_t now_ns) {
  std::string_view header;
  uint32_t size = 0;
  while (!data.empty()) {
    switch (c.rx->reader.next(&data, &header, &size)) {
      case StreamFrameReader::Event::kNeedMore:
        return true;
      case StreamFrameReader::Event::kBadLength:
        // Nothing after a broken length can be cut into messages: the connection goes, and
        // its replacement waits, as after a failed connect.
        recordError(ErrorKind::kFraming);
        endStream(c);
        closeConn(c, true);
        return false;
      case StreamFrameReader::Event::kMessage: {
        StreamHeader h;
        if (!readStreamHeader(header, &h)) {
          recordError(ErrorKind::kMalformed);
        } else {
          onStreamMessage(c, h, now_ns);
        }
        break;
      }
    }
  }
  return true;
}

void LoadWorker::onStreamMessage(Conn& c, const StreamHeader& h, uint64_t now_ns) {
  if (h.flags != 0) {
    recordError(ErrorKind::kMalformed);  // a source's messages carry no flags
    return;
  }
  c.rx->streaming = true;
  uint64_t lost = 0;
  switch (c.rx->tracker.add(h.seq, h.send_ns, now_ns, &lost)) {
    case ReceiveTracker::Arrival::kFirst:
      publishIfDue(now_ns);
      ++counters_.completed;
      ++interval_completed_;
      if (loopback_ && now_ns >= h.send_ns) {
        // One clock at both ends: the source's send time is comparable with our arrival.
        const auto us = static_cast<int64_t>(toMicros(now_ns - h.send_ns));
        histograms_.corrected.record(us);
        histograms_.uncorrected.record(us);
        interval_.record(us);
      }
      break;
    case ReceiveTracker::Arrival::kDuplicate:
      ++counters_.duplicates;
      break;
    case ReceiveTracker::Arrival::kLate:
      ++counters_.late;
      break;
  }
  if (lost > 0) {
    recordError(ErrorKind::kLost, lost);
  }
}

void LoadWorker::endStream(Conn& c) {
  ReceiveTracker& t = c.rx->tracker;
  const uint64_t lost = t.finish();
  if (lost > 0) {
    recordError(ErrorKind::kLost, lost);
  }
  counters_.reordered += t.reordered();
  rx_jitter_ns_ = std::max(rx_jitter_ns_, t.jitterNs());
  t.reset();
  c.rx->reader.reset();
  c.rx->streaming = false;
}

void LoadWorker::onStreamClosed(Conn& c) {
  const bool had_stream = c.rx->streaming;
  endStream(c);
  if (!had_stream) {
    // Closed before a message: refused (the source's max_streams) or not a source. Counted,
    // and retried after a pause rather than in a loop.
    recordError(ErrorKind::kClosed);
  }
  closeConn(c, !had_stream);
}

}  // namespace portd::load
