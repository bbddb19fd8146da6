// LoadWorker over UDP: a connected socket per connection, datagrams rendered by the
// datagram codec into one reused buffer and sent at once, and the answers matched to their
// requests by sequence number (loss, duplicates, reordering and lateness counted).

#include <algorithm>

#include "load/worker.h"

namespace portd::load {

void LoadWorker::connectUdp(Conn& c, const sockaddr* addr) {
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

void LoadWorker::fillUdp(Conn& c) {
  // Closed model: at most connections x pipeline datagrams outstanding per thread.
  const uint64_t window = conns_.size() * static_cast<uint64_t>(std::max(1, options_.pipeline));
  // One clock reading for the batch: the datagrams leave within microseconds of it.
  const uint64_t t = now();
  while (issuing(t) && c.state == Conn::State::kUp && tracker_.outstanding() < window) {
    if (!sendDatagram(c, t, t)) {
      break;  // the socket is full: no busy loop, the next answer or sweep fills again
    }
  }
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

}  // namespace portd::load
