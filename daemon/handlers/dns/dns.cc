#include "handlers/dns/dns.h"

#include <chrono>
#include <cstring>
#include <memory>
#include <portd/handler.hpp>
#include <random>
#include <vector>

#include "handlers/dns/answer.h"
#include "handlers/dns/dns_config.h"
#include "handlers/dns/message.h"
#include "handlers/dns/rrl.h"
#include "net/address.h"

namespace portd::handlers::dns {

namespace {

// A TCP message is at most 65535 bytes behind its 2-byte length; answers to one read collect
// in a buffer of this size and leave in one write (more only when they overflow it).
constexpr size_t kTcpOut = 256 * 1024;

uint64_t randomSeed() {
  std::random_device device;
  return (uint64_t{device()} << 32) ^ device();
}

class Dns {
 public:
  Dns(sdk::Worker w, const DnsConfig& c)
      : worker_(w),
        config_(c),
        rng_(randomSeed()),
        rrl_(c.rrl_rate, c.rrl_slip, randomSeed()),
        udp_out_(std::make_unique<uint8_t[]>(kMaxMessage)),
        tcp_out_(std::make_unique<uint8_t[]>(kTcpOut)),
        pending_(c.knobs.delay_ppm != 0 ? c.max_delayed : 0) {
    for (Pending& p : pending_) {
      p.owner = this;
      free_.push_back(&p);
    }
    queries_ = w.counter("queries");
    rcode_[kNoError] = w.counter("noerror");
    rcode_[kFormErr] = w.counter("formerr");
    rcode_[kServFail] = w.counter("servfail");
    rcode_[kNxDomain] = w.counter("nxdomain");
    rcode_[kNotImp] = w.counter("notimp");
    rcode_[kRefused] = w.counter("refused");
    badvers_ = w.counter("badvers");
    truncated_ = w.counter("truncated");
    malformed_dropped_ = w.counter("dropped_unanswerable");
    blocked_ = w.counter("blocked_datagrams");
    rrl_dropped_ = w.counter("rrl_dropped");
    rrl_slipped_ = w.counter("rrl_slipped");
    fault_drop_ = w.counter("fault_dropped");
    fault_servfail_ = w.counter("fault_servfail");
    fault_truncate_ = w.counter("fault_truncated");
    fault_delay_ = w.counter("fault_delayed");
    delay_full_ = w.counter("delay_pool_full");
  }
  Dns(Dns&&) = delete;

  void onDatagram(sdk::Datagram d, const sockaddr* peer, std::string_view data) {
    const uint16_t port = net::portOf(peer);
    if (port == 0 || config_.blocked_ports.test(port)) {
      worker_.add(blocked_);
      return;
    }
    const Knobs& k = config_.knobs;
    if (rng_.chance(k.drop_ppm)) {
      worker_.add(queries_);
      worker_.add(fault_drop_);
      return;
    }
    Override override = Override::kNone;
    if (rng_.chance(k.servfail_ppm)) {
      override = Override::kServFail;
      worker_.add(fault_servfail_);
    } else if (rng_.chance(k.truncate_ppm)) {
      override = Override::kTruncate;
      worker_.add(fault_truncate_);
    }
    size_t n = answer(data, override, true, true, udp_out_.get());
    if (n == 0) {
      return;
    }
    if (rrl_.enabled()) {
      const uint64_t now =
          static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now().time_since_epoch())
                                    .count());
      switch (rrl_.check(peer, now)) {
        case RateLimiter::Verdict::kSend:
          break;
        case RateLimiter::Verdict::kDrop:
          worker_.add(rrl_dropped_);
          return;
        case RateLimiter::Verdict::kSlip:
          worker_.add(rrl_slipped_);
          n = answer(data, Override::kTruncate, false, true, udp_out_.get());
          break;
      }
    }
    const std::string_view out(reinterpret_cast<const char*>(udp_out_.get()), n);
    if (rng_.chance(k.delay_ppm)) {
      worker_.add(fault_delay_);
      if (delay(d, peer, out)) {
        return;
      }
      worker_.add(delay_full_);
    }
    d.reply(peer, out);
  }

  void onData(sdk::Conn c, std::string_view data) {
    const auto* in = reinterpret_cast<const uint8_t*>(data.data());
    const int64_t limit = c.writeLimit();
    int64_t queued = c.queuedBytes();
    size_t pos = 0;
    size_t out = 0;
    bool close = false;
    while (data.size() - pos >= 2) {
      const size_t len = get16(in + pos);
      if (data.size() - pos - 2 < len) {
        break;
      }
      // At the write limit the rest waits, kept: portd has stopped reading and calls
      // onWritable once the client has read, and the kept input comes again. A write is
      // accepted below the limit whatever its size, so no answer made here is refused.
      if (queued < 0 || (limit > 0 && queued >= limit)) {
        break;
      }
      if (kTcpOut - out < 2 + kMaxMessage) {
        if (!flush(c, out)) {
          return;
        }
        out = 0;
        queued = c.queuedBytes();
        continue;
      }
      const std::string_view msg(data.substr(pos + 2, len));
      pos += 2 + len;
      // SERVFAIL is the one fault that makes sense on a stream: a dropped or truncated answer
      // would only stall the client.
      const Override override =
          rng_.chance(config_.knobs.servfail_ppm) ? Override::kServFail : Override::kNone;
      if (override == Override::kServFail) {
        worker_.add(fault_servfail_);
      }
      const size_t n = answer(msg, override, true, false, tcp_out_.get() + out + 2);
      if (n == 0) {
        // Nothing that can be answered (a response, a runt): the stream cannot be trusted.
        close = true;
        break;
      }
      put16(tcp_out_.get() + out, static_cast<uint16_t>(n));
      out += 2 + n;
    }
    if (out > 0 && !flush(c, out)) {
      return;
    }
    if (close) {
      c.close();
      return;
    }
    // A partial message waits for the rest; one that cannot be kept (a write_buffer_limit
    // below 64 KiB) ends the connection rather than being answered wrong.
    if (pos < data.size() && c.keep(data.size() - pos) < 0) {
      c.close();
    }
  }

  // Kept input comes again after this: nothing to do but be called.
  void onWritable(sdk::Conn) {}

  void onDrain(sdk::Conn c) { c.close(); }

 private:
  struct Pending {
    Dns* owner = nullptr;
    portd_dgram_t socket = 0;
    sockaddr_storage peer{};
    uint16_t len = 0;
    uint8_t data[4096];
  };

  bool flush(sdk::Conn c, size_t n) {
    c.write(std::string_view(reinterpret_cast<const char*>(tcp_out_.get()), n));
    return c.isOpen();
  }

  // Parses and answers one message into out; 0 when it gets no answer. Counts the query and
  // the answer's RCODE.
  size_t answer(std::string_view msg, Override override, bool count, bool udp, uint8_t* out) {
    const auto* in = reinterpret_cast<const uint8_t*>(msg.data());
    const ParseResult r = parseQuery(in, msg.size(), &query_);
    if (r == ParseResult::kDrop) {
      worker_.add(malformed_dropped_);
      return 0;
    }
    // TCP answers may be as large as a message; UDP ones fit what the client said it takes.
    const size_t limit = udp ? udpLimit(query_, config_.answers) : kMaxMessage;
    AnswerInfo info;
    const size_t n =
        buildAnswer(config_.zones, config_.answers, query_, r, override, out, limit, &info);
    if (count) {
      worker_.add(queries_);
      if (info.rcode < 6) {
        worker_.add(rcode_[info.rcode]);
      } else {
        worker_.add(badvers_);
      }
      if (info.truncated) {
        worker_.add(truncated_);
      }
    }
    return n;
  }

  // Keeps a copy of the answer and sends it from a timer; false when the pool is full.
  bool delay(sdk::Datagram d, const sockaddr* peer, std::string_view out) {
    if (free_.empty() || out.size() > sizeof(Pending::data)) {
      return false;
    }
    Pending* p = free_.back();
    p->socket = d.id();
    std::memcpy(&p->peer, peer,
                peer->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
    p->len = static_cast<uint16_t>(out.size());
    std::memcpy(p->data, out.data(), out.size());
    if (worker_.startTimer(config_.knobs.delay_ms, &Dns::sendDelayed, p) == 0) {
      return false;
    }
    free_.pop_back();
    return true;
  }

  static void sendDelayed(void* arg) {
    Pending* p = static_cast<Pending*>(arg);
    Dns* self = p->owner;
    // The socket may have been replaced by a reload since: reply() then refuses, harmlessly.
    sdk::Datagram(self->worker_.host(), p->socket)
        .reply(reinterpret_cast<const sockaddr*>(&p->peer),
               std::string_view(reinterpret_cast<const char*>(p->data), p->len));
    self->free_.push_back(p);
  }

  sdk::Worker worker_;
  const DnsConfig& config_;
  Xorshift64 rng_;
  RateLimiter rrl_;
  Query query_;
  std::unique_ptr<uint8_t[]> udp_out_;
  std::unique_ptr<uint8_t[]> tcp_out_;
  std::vector<Pending> pending_;
  std::vector<Pending*> free_;
  int queries_;
  int rcode_[6];
  int badvers_;
  int truncated_;
  int malformed_dropped_;
  int blocked_;
  int rrl_dropped_;
  int rrl_slipped_;
  int fault_drop_;
  int fault_servfail_;
  int fault_truncate_;
  int fault_delay_;
  int delay_full_;
};

const portd_handler_def kDns = sdk::makeHandler<DnsConfig, Dns>(
    "dns",
    "static authoritative DNS server: zones from master files, UDP and TCP, EDNS0, response "
    "rate limiting and fault knobs",
    PORTD_TCP | PORTD_UDP, kOptions, kOptionCount);

}  // namespace

const portd_handler_def& definition() { return kDns; }

}  // namespace portd::handlers::dns
