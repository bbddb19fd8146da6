#include "handlers/stream/stream_handler.h"

#include <netinet/in.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <portd/handler.hpp>
#include <string>
#include <vector>

#include "handlers/stream/address_index.h"
#include "handlers/stream/seq_tracker.h"
#include "handlers/stream/stream_config.h"
#include "handlers/stream/wire.h"

namespace portd::handlers::stream {

namespace {

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Output gathered from one read before it is written (echo and sockperf answers over TCP).
constexpr size_t kOutChunk = 64 * 1024;
// The pacing timer's period, and the most packets one stream sends per tick (a stream far
// behind catches up over several ticks rather than in one burst).
constexpr uint64_t kTickMs = 1;
constexpr uint64_t kMaxBurst = 256;

enum Counter {
  kReceived,
  kReceivedBytes,
  kLost,
  kDuplicated,
  kReordered,
  kLate,
  kInvalid,
  kEchoed,
  kPeers,
  kPeersRefused,
  kSent,
  kSentBytes,
  kStreams,
  kStreamsRefused,
  kChallenges,
  kSockperfMessages,
  kSockperfAnswers,
  kPeerSeriesRefused,
  kCounterCount
};
const char* const kCounterNames[] = {"received",
                                     "received_bytes",
                                     "lost",
                                     "duplicated",
                                     "reordered",
                                     "late",
                                     "invalid",
                                     "echoed",
                                     "peers",
                                     "peers_refused",
                                     "sent",
                                     "sent_bytes",
                                     "streams",
                                     "streams_refused",
                                     "challenges",
                                     "sockperf_messages",
                                     "sockperf_answers",
                                     "peer_series_refused"};
static_assert(std::size(kCounterNames) == kCounterCount);

// Each sink peer's own figures, as labelled series (label "peer", the address and port):
// portd_handler_peer_events_total{name="received",peer="..."} and so on, removed when the
// peer's stream ends.
enum PeerCounter {
  kPeerReceived,
  kPeerReceivedBytes,
  kPeerLost,
  kPeerDuplicated,
  kPeerReordered,
  kPeerLate,
  kPeerCounterCount
};
const char* const kPeerCounterNames[] = {"received",   "received_bytes", "lost",
                                         "duplicated", "reordered",      "late"};
static_assert(std::size(kPeerCounterNames) == kPeerCounterCount);
const char* const kPeerGaugeNames[] = {"jitter_seconds"};
constexpr int kPeerJitter = 0;

// One peer of the sink: a UDP source address or a TCP connection.
struct Peer {
  PeerKey key;
  sockaddr_storage addr{};
  SeqTracker tracker;
  int64_t last_ns = 0;
  portd_series_t series = 0;  // 0: none (max_peers of them live, or an older portd)
  bool used = false;
};

// One stream of the source: to a TCP connection or a UDP subscriber.
struct Stream {
  bool used = false;
  bool blocked = false;  // TCP: a write was refused; onWritable clears it
  bool closing = false;  // TCP: its time is up, the close waits for queued output
  portd_conn_t conn = 0;
  portd_dgram_t socket = 0;
  PeerKey key;
  sockaddr_storage addr{};
  int64_t start_ns = 0;
  uint64_t seq = 0;
};

class StreamHandler {
 public:
  StreamHandler(sdk::Worker w, const Config& c)
      : worker_(w),
        host_(w.host()),
        config_(c),
        peers_(c.mode == Mode::kSink ? c.max_peers : 0),
        peer_index_(c.mode == Mode::kSink ? c.max_peers : 1),
        streams_(c.mode == Mode::kSource ? c.max_streams : 0),
        stream_index_(c.mode == Mode::kSource ? c.max_streams : 1) {
    for (size_t i = 0; i < counters_.size(); ++i) {
      counters_[i] = w.counter(kCounterNames[i]);
    }
    if (c.mode == Mode::kSink) {
      peer_series_ = sdk::LabelledSeries(w, "peer", static_cast<uint32_t>(c.max_peers),
                                         kPeerCounterNames, kPeerGaugeNames);
    }
    out_.reserve(kOutChunk + kMaxMessage + kLengthPrefix);
    if (c.mode == Mode::kSource) {
      packet_.assign(kOutChunk + c.packet_size + kLengthPrefix, '\0');
      // Messages per nanosecond: the bitrate counts every byte handed to the socket, the TCP
      // length prefix included.
      const size_t wire = c.packet_size + kLengthPrefix;
      udp_per_ns_ = static_cast<double>(c.bitrate) / (8.0 * c.packet_size * 1e9);
      tcp_per_ns_ = static_cast<double>(c.bitrate) / (8.0 * wire * 1e9);
    }
  }

  // ---- TCP ----

  void onOpen(sdk::Conn c) {
    if (config_.mode == Mode::kSink) {
      auto* p = new Peer();
      p->used = true;
      host_->peer_address(c.id(), &p->addr);
      c.setData(p);
      ++tcp_peers_;
      add(kPeers);
      openSeries(*p);
    } else if (config_.mode == Mode::kSource) {
      Stream* s = takeStream();
      if (s == nullptr) {
        c.close();
        return;
      }
      s->conn = c.id();
      c.setData(s);
      startPacing();
    }
  }

  void onData(sdk::Conn c, std::string_view data) {
    switch (config_.mode) {
      case Mode::kSink:
        sinkTcp(c, data);
        return;
      case Mode::kSockperf:
        sockperfTcp(c, data);
        return;
      case Mode::kSource:
        return;  // what a source's peer sends is read and dropped
    }
  }

  void onWritable(sdk::Conn c) {
    if (config_.mode == Mode::kSource) {
      if (Stream* s = c.data<Stream>(); s != nullptr && !s->closing) {
        s->blocked = false;
      }
    }
    // The other modes kept their unanswered input: it comes again after this.
  }

  void onPeerClosed(sdk::Conn c) { c.close(); }
  void onDrain(sdk::Conn c) { c.close(); }

  void onClose(sdk::Conn c) {
    if (config_.mode == Mode::kSink) {
      if (auto* p = c.data<Peer>()) {
        finishPeer(*p, "tcp");
        --tcp_peers_;
        delete p;
      }
    } else if (config_.mode == Mode::kSource) {
      if (auto* s = c.data<Stream>()) {
        *s = Stream();
      }
    }
    c.setData(nullptr);
  }

  // ---- UDP ----

  void onDatagram(sdk::Datagram d, const sockaddr* peer, std::string_view data) {
    switch (config_.mode) {
      case Mode::kSink:
        sinkUdp(d, peer, data);
        return;
      case Mode::kSource:
        subscribe(d, peer, data);
        return;
      case Mode::kSockperf:
        sockperfUdp(d, peer, data);
        return;
    }
  }

  // ---- timers ----

  void sweep() {
    sweep_timer_ = 0;
    const int64_t now = nowNs();
    const auto idle = static_cast<int64_t>(config_.peer_idle_ms) * 1000000;
    size_t active = 0;
    for (Peer& p : peers_) {
      if (!p.used) {
        continue;
      }
      if (now - p.last_ns >= idle) {
        finishPeer(p, "udp");
        peer_index_.erase(p.key);
        p.used = false;
        --udp_peers_;
      } else {
        ++active;
      }
    }
    if (active > 0) {
      startSweep();
    }
  }

  void tick() {
    tick_timer_ = 0;
    const int64_t now = nowNs();
    const auto duration = static_cast<int64_t>(config_.duration_ms) * 1000000;
    size_t active = 0;
    for (Stream& s : streams_) {
      if (!s.used || s.closing) {
        continue;
      }
      if (now - s.start_ns >= duration) {
        endStream(s);
        continue;
      }
      ++active;
      if (!s.blocked) {
        if (s.conn != 0) {
          sendTcp(s, now);
        } else {
          sendUdp(s, now);
        }
      }
    }
    if (active > 0) {
      startPacing();
    }
  }

 private:
  void add(Counter c, uint64_t n = 1) {
    if (n != 0) {
      worker_.add(counters_[c], n);
    }
  }

  // A change of one of a peer's figures: to the worker's totals and to the peer's series.
  void publish(Peer& p, Counter total, PeerCounter own, uint64_t n) {
    if (n != 0) {
      worker_.add(counters_[total], n);
      peer_series_.add(p.series, own, n);
    }
  }

  // Adds what one packet changed in a peer's figures to the worker's counters.
  void publish(Peer& p, const StreamStats& before, const StreamStats& after) {
    publish(p, kReceived, kPeerReceived, after.received - before.received);
    publish(p, kReceivedBytes, kPeerReceivedBytes, after.bytes - before.bytes);
    publish(p, kLost, kPeerLost, after.lost - before.lost);
    publish(p, kDuplicated, kPeerDuplicated, after.duplicated - before.duplicated);
    publish(p, kReordered, kPeerReordered, after.reordered - before.reordered);
    publish(p, kLate, kPeerLate, after.late - before.late);
    if (after.jitter_ns != before.jitter_ns) {
      peer_series_.set(p.series, kPeerJitter, after.jitter_ns / 1e9);
    }
  }

  void account(Peer& p, const Header& h, size_t bytes, int64_t now) {
    const StreamStats before = p.tracker.stats();
    p.tracker.add(h.seq, bytes, static_cast<int64_t>(h.send_ns), now);
    publish(p, before, p.tracker.stats());
    p.last_ns = now;
  }

  // The peer's series, labelled with its address and port; none when max_peers are live.
  void openSeries(Peer& p) {
    if (!peer_series_.available()) {
      return;
    }
    char name[kPeerNameMax];
    const size_t len = formatPeer(reinterpret_cast<const sockaddr*>(&p.addr), name);
    p.series = len > 0 ? peer_series_.open(std::string_view(name, len)) : 0;
    if (p.series == 0) {
      add(kPeerSeriesRefused);
    }
  }

  // The stream ended: what is still missing is lost, the peer's figures are logged, one line,
  // and its series leave the metrics (a peer that comes back starts new ones).
  void finishPeer(Peer& p, const char* transport) {
    const StreamStats before = p.tracker.stats();
    p.tracker.finish();
    const StreamStats& s = p.tracker.stats();
    publish(p, before, s);
    if (s.received != 0 || s.late != 0 || s.duplicated != 0) {
      logPeer(p, transport);
    }
    peer_series_.close(p.series);
    p.series = 0;
  }

  void logPeer(const Peer& p, const char* transport) {
    const StreamStats& s = p.tracker.stats();
    char name[kPeerNameMax];
    formatPeer(reinterpret_cast<const sockaddr*>(&p.addr), name);
    char line[320];
    std::snprintf(line, sizeof line,
                  "stream from %s (%s): received %llu (%llu bytes), lost %llu, duplicated %llu, "
                  "reordered %llu, late %llu, jitter %.1f us",
                  name, transport, static_cast<unsigned long long>(s.received),
                  static_cast<unsigned long long>(s.bytes), static_cast<unsigned long long>(s.lost),
                  static_cast<unsigned long long>(s.duplicated),
                  static_cast<unsigned long long>(s.reordered),
                  static_cast<unsigned long long>(s.late), s.jitter_ns / 1000.0);
    worker_.log(PORTD_LOG_INFO, line);
  }

  void sinkTcp(sdk::Conn c, std::string_view data) {
    auto* p = c.data<Peer>();
    if (p == nullptr) {
      return;
    }
    const int64_t now = nowNs();  // one reading for everything that arrived together
    out_.clear();
    while (true) {
      const Frame f = nextStreamFrame(data);
      if (f.kind == Frame::Kind::kInvalid) {
        add(kInvalid);
        c.close();
        return;
      }
      if (f.kind == Frame::Kind::kNeedMore) {
        break;
      }
      const std::string_view message = data.substr(kLengthPrefix, f.size - kLengthPrefix);
      Header h;
      if (decodeHeader(message, &h)) {
        account(*p, h, message.size(), now);
        if (config_.echo || (h.flags & kFlagEcho) != 0) {
          out_.append(data.substr(0, f.size));
          add(kEchoed);
        }
      } else {
        add(kInvalid);
      }
      data.remove_prefix(f.size);
      if (out_.size() >= kOutChunk && !flushOut(c, data)) {
        return;
      }
    }
    if (flushOut(c, {})) {
      keep(c, data);
    }
  }

  // Writes out_; when the peer's queue is then full, keeps `rest` unread for onWritable and
  // returns false. False also when the connection closed.
  bool flushOut(sdk::Conn c, std::string_view rest) {
    if (!out_.empty()) {
      c.write(out_);
      out_.clear();
      if (!c.isOpen()) {
        return false;
      }
    }
    if (!rest.empty() && c.queuedBytes() >= c.writeLimit()) {
      keep(c, rest);
      return false;
    }
    return true;
  }

  static void keep(sdk::Conn c, std::string_view rest) {
    if (!rest.empty() && c.keep(rest.size()) != PORTD_OK) {
      c.close();  // more than write_buffer_limit waiting: this peer does not read its answers
    }
  }

  void sinkUdp(sdk::Datagram d, const sockaddr* peer, std::string_view data) {
    Header h;
    PeerKey key;
    if (!decodeHeader(data, &h) || !keyOf(peer, &key)) {
      add(kInvalid);
      return;
    }
    const int64_t now = nowNs();
    int slot = peer_index_.find(key);
    if (slot < 0) {
      slot = newPeer(key, peer, now);
    }
    if (slot >= 0) {
      account(peers_[static_cast<size_t>(slot)], h, data.size(), now);
    }
    // The answer is the datagram itself, never more, so the sink cannot amplify.
    if (config_.echo || (h.flags & kFlagEcho) != 0) {
      d.reply(peer, data);
      add(kEchoed);
    }
  }

  int newPeer(const PeerKey& key, const sockaddr* peer, int64_t now) {
    if (udp_peers_ == peers_.size()) {
      add(kPeersRefused);  // full: forgotten ones make room once idle
      return -1;
    }
    while (peers_[next_free_].used) {
      next_free_ = (next_free_ + 1) % peers_.size();
    }
    const size_t i = next_free_;
    Peer& p = peers_[i];
    p.tracker.reset();
    p.key = key;
    std::memcpy(&p.addr, peer,
                peer->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
    p.last_ns = now;
    p.used = true;
    peer_index_.insert(key, static_cast<int>(i));
    ++udp_peers_;
    add(kPeers);
    openSeries(p);
    startSweep();
    return static_cast<int>(i);
  }

  void startSweep() {
    if (sweep_timer_ == 0) {
      // A quarter of peer_idle: a peer is reported at most a quarter late.
      const uint64_t every =
          std::max<uint64_t>(5, std::min<uint64_t>(1000, config_.peer_idle_ms / 4));
      sweep_timer_ = worker_.startTimer<&StreamHandler::sweep>(every, this);
    }
  }

  // ---- source ----

  Stream* takeStream() {
    for (Stream& s : streams_) {
      if (!s.used) {
        s = Stream();
        s.used = true;
        s.start_ns = nowNs();
        add(kStreams);
        return &s;
      }
    }
    add(kStreamsRefused);
    return nullptr;
  }

  void subscribe(sdk::Datagram d, const sockaddr* peer, std::string_view data) {
    Header h;
    PeerKey key;
    if (!decodeHeader(data, &h) || !keyOf(peer, &key) ||
        (h.flags & (kFlagSubscribe | kFlagUnsubscribe)) == 0) {
      add(kInvalid);
      return;
    }
    const int slot = stream_index_.find(key);
    if ((h.flags & kFlagUnsubscribe) != 0) {
      if (slot >= 0) {
        endStream(streams_[static_cast<size_t>(slot)]);
      }
      return;
    }
    if (slot >= 0) {
      return;  // already sending to this peer: a repeated subscribe (its first was lost?)
    }
    const auto now = static_cast<uint64_t>(nowNs());
    if (!config_.cookies.check(peer, h.seq, now)) {
      // Not yet shown to receive at that address: a challenge no larger than the subscribe
      // (a header, at most as long as what came in), and nothing more.
      char challenge[kHeaderSize];
      encodeHeader(Header{kFlagChallenge, config_.cookies.make(peer, now), now}, challenge);
      d.reply(peer, std::string_view(challenge, kHeaderSize));
      add(kChallenges);
      return;
    }
    Stream* s = takeStream();
    if (s == nullptr) {
      return;
    }
    s->socket = d.id();
    s->key = key;
    std::memcpy(&s->addr, peer,
                peer->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
    stream_index_.insert(key, static_cast<int>(s - streams_.data()));
    startPacing();
  }

  void endStream(Stream& s) {
    if (s.conn != 0) {
      s.closing = true;                  // while the close waits for queued output
      sdk::Conn(host_, s.conn).close();  // onClose frees the stream
      return;
    }
    stream_index_.erase(s.key);
    s = Stream();
  }

  void startPacing() {
    if (tick_timer_ == 0) {
      tick_timer_ = worker_.startTimer<&StreamHandler::tick>(kTickMs, this);
    }
  }

  // How many messages are due `now`: from the start, so that the rate holds however late the
  // timer fires; the first one leaves at once.
  uint64_t due(const Stream& s, int64_t now, double per_ns) const {
    const auto owed = 1 + static_cast<uint64_t>(static_cast<double>(now - s.start_ns) * per_ns);
    return std::min(owed, s.seq + kMaxBurst);
  }

  void fillMessage(char* at, uint64_t seq, int64_t now) {
    encodeHeader(Header{0, seq, static_cast<uint64_t>(now)}, at);
  }

  void sendUdp(Stream& s, int64_t now) {
    const uint64_t until = due(s, now, udp_per_ns_);
    sdk::Datagram d(host_, s.socket);
    const std::string_view message(packet_.data(), config_.packet_size);
    while (s.seq < until) {
      fillMessage(packet_.data(), s.seq, now);
      if (d.reply(reinterpret_cast<const sockaddr*>(&s.addr), message) == PORTD_ECLOSED) {
        endStream(s);  // the socket was replaced by a reload
        return;
      }
      ++s.seq;
      add(kSent);
      add(kSentBytes, message.size());
    }
  }

  void sendTcp(Stream& s, int64_t now) {
    const uint64_t until = due(s, now, tcp_per_ns_);
    const size_t wire = config_.packet_size + kLengthPrefix;
    sdk::Conn c(host_, s.conn);
    while (s.seq < until) {
      // Messages of one tick leave in one write.
      size_t used = 0;
      uint64_t n = 0;
      while (s.seq + n < until && used + wire <= packet_.size()) {
        storeBe(packet_.data() + used, config_.packet_size, kLengthPrefix);
        fillMessage(packet_.data() + used + kLengthPrefix, s.seq + n, now);
        used += wire;
        ++n;
      }
      const int64_t r = c.write(std::string_view(packet_.data(), used));
      if (r == PORTD_EAGAIN) {
        s.blocked = true;  // nothing was queued: these go again after onWritable
        return;
      }
      if (r < 0 || !c.isOpen()) {
        return;  // closed: onClose has freed the stream
      }
      s.seq += n;
      add(kSent, n);
      add(kSentBytes, used);
    }
  }

  // ---- sockperf ----

  void sockperfUdp(sdk::Datagram d, const sockaddr* peer, std::string_view data) {
    const Frame f = nextSockperfFrame(data);
    if (f.kind != Frame::Kind::kMessage) {
      add(kInvalid);
      return;
    }
    add(kSockperfMessages);
    const auto flags = static_cast<uint16_t>(loadBe(data.data() + kSockperfFlagsAt, 2));
    if (!sockperfWantsAnswer(flags)) {
      return;
    }
    // As sockperf's server does: the message (its length's worth, never more than arrived)
    // with the client bit cleared. The datagram is copied: what the listener handed over is
    // not the handler's to change.
    out_.assign(data.substr(0, f.size));
    storeBe(out_.data() + kSockperfFlagsAt, sockperfAnswerFlags(flags), 2);
    d.reply(peer, out_);
    add(kSockperfAnswers);
  }

  void sockperfTcp(sdk::Conn c, std::string_view data) {
    out_.clear();
    uint64_t messages = 0;
    uint64_t answers = 0;
    while (true) {
      const Frame f = nextSockperfFrame(data);
      if (f.kind == Frame::Kind::kInvalid) {
        add(kInvalid);
        c.close();
        return;
      }
      if (f.kind == Frame::Kind::kNeedMore) {
        break;
      }
      ++messages;
      const auto flags = static_cast<uint16_t>(loadBe(data.data() + kSockperfFlagsAt, 2));
      if (sockperfWantsAnswer(flags)) {
        const size_t at = out_.size();
        out_.append(data.substr(0, f.size));
        storeBe(out_.data() + at + kSockperfFlagsAt, sockperfAnswerFlags(flags), 2);
        ++answers;
      }
      data.remove_prefix(f.size);
      if (out_.size() >= kOutChunk) {
        add(kSockperfMessages, messages);
        add(kSockperfAnswers, answers);
        messages = answers = 0;
        if (!flushOut(c, data)) {
          return;
        }
      }
    }
    add(kSockperfMessages, messages);
    add(kSockperfAnswers, answers);
    if (flushOut(c, {})) {
      keep(c, data);
    }
  }

  sdk::Worker worker_;
  const portd_host_api* host_;
  const Config& config_;
  std::array<int, kCounterCount> counters_{};
  sdk::LabelledSeries peer_series_;  // sink only
  std::vector<Peer> peers_;          // UDP sink peers, all allocated up front
  AddressIndex peer_index_;
  size_t udp_peers_ = 0;
  size_t tcp_peers_ = 0;
  size_t next_free_ = 0;
  std::vector<Stream> streams_;  // source streams, all allocated up front
  AddressIndex stream_index_;    // UDP subscribers
  std::string out_;              // answers of one read
  std::string packet_;           // messages of one tick
  double udp_per_ns_ = 0;
  double tcp_per_ns_ = 0;
  portd_timer_t sweep_timer_ = 0;
  portd_timer_t tick_timer_ = 0;
};

const portd_handler_def kStream = sdk::makeHandler<Config, StreamHandler>(
    "stream",
    "fixed-rate streams: loss, duplicate, reorder and jitter accounting, a paced source, and "
    "answers to sockperf's client",
    PORTD_TCP | PORTD_UDP, kOptions, kOptionCount);

}  // namespace

const portd_handler_def& definition() { return kStream; }

}  // namespace portd::handlers::stream
