// Handlers that break the rules, or test their edges, for misbehave_test.cc.
//
// "misbehave" (TCP), one command per line:
//   ping   answers "pong"
//   late   starts a timer; when it fires the connection is closed by the peer, and the timer
//          uses its stale id with every connection function and logs what they returned
//   fail   throws from onData: a failure of the handler on this connection
//   id     answers the connection's id, so that a test can tell connections apart
// "picky" (TCP): rejects its options when `level` is above 10 or `word` is empty.
// "counter" (TCP and UDP): state kept in the instance, visible from outside. Each connection
//          is greeted, and each datagram answered, with "LABEL n=K": the K-th one this instance
//          served. The instance logs "instance made" when it is created, so that a test can
//          tell a reload that kept it from one that made it again. With `create_delay` its
//          creation takes that long, as for a handler that loads data before it serves.
#include <list>
#include <portd/handler.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

namespace {

using portd::sdk::Conn;
using portd::sdk::Worker;

const portd_option_def kMisbehaveOptions[] = {
    {"late_ms", PORTD_OPT_DURATION, "\"300ms\"", "when a late write happens"},
};

struct MisbehaveConfig {
  explicit MisbehaveConfig(const portd::sdk::Options& o) : late_ms(o.getDurationMs("late_ms")) {}
  uint64_t late_ms;
};

class Misbehave;

struct Late {
  Misbehave* owner;
  portd_conn_t conn;
  portd_timer_t timer = 0;
  void fire();
};

class Misbehave {
 public:
  Misbehave(Worker w, const MisbehaveConfig& c) : worker_(w), config_(c) {}

  void onData(Conn c, std::string_view data) {
    while (!data.empty() && (data.back() == '\n' || data.back() == '\r')) {
      data.remove_suffix(1);
    }
    if (data == "ping") {
      c.write("pong\n");
    } else if (data == "late") {
      Late& l = late_.emplace_back(Late{this, c.id()});
      l.timer = worker_.startTimer<&Late::fire>(config_.late_ms, &l);
      c.write("later\n");
    } else if (data == "fail") {
      throw std::runtime_error("told to fail");
    } else if (data == "id") {
      c.write(std::to_string(c.id()) + "\n");
    } else {
      c.write("unknown command\n");
    }
  }

  void fired(Late* l) {
    const portd_host_api* h = worker_.host();
    char buf[1];
    struct sockaddr_storage peer;
    std::string report = "stale connection:";
    report += " write=" + std::to_string(h->write(l->conn, "x", 1));
    report += " close=" + std::to_string(h->close(l->conn));
    report += " abort=" + std::to_string(h->abort(l->conn));
    report += " pause_reading=" + std::to_string(h->pause_reading(l->conn));
    report += " resume_reading=" + std::to_string(h->resume_reading(l->conn));
    report += " set_conn_data=" + std::to_string(h->set_conn_data(l->conn, buf));
    report += " conn_data=" + std::string(h->conn_data(l->conn) == nullptr ? "null" : "set");
    report += " peer_address=" + std::to_string(h->peer_address(l->conn, &peer));
    report += " timer_stop=" + std::to_string(h->timer_stop(l->timer));
    report += " timer_stop(0)=" + std::to_string(h->timer_stop(0));
    worker_.log(PORTD_LOG_WARN, report);
    late_.remove_if([l](const Late& x) { return &x == l; });
  }

 private:
  Worker worker_;
  const MisbehaveConfig& config_;
  std::list<Late> late_;  // timers still to fire; freed with the instance otherwise
};

void Late::fire() { owner->fired(this); }

const portd_option_def kPickyOptions[] = {
    {"level", PORTD_OPT_INT, "1", "at most 10"},
    {"word", PORTD_OPT_STRING, "\"ok\"", "not empty"},
};

struct PickyConfig {
  explicit PickyConfig(const portd::sdk::Options& o) {
    int64_t level = o.getInt("level");
    if (level > 10) {
      // A reason about the options as a whole: reported at the listener's options table.
      throw portd::sdk::ConfigError("level " + std::to_string(level) + " is above 10");
    }
    if (o.getString("word").empty()) {
      // "NAME: ...": reported at that option.
      throw portd::sdk::ConfigError("word: must not be empty");
    }
  }
};

struct Picky {
  Picky(Worker, const PickyConfig&) {}
  void onData(Conn c, std::string_view data) { c.write(data); }
};

const portd_option_def kCounterOptions[] = {
    {"label", PORTD_OPT_STRING, "\"n\"", "what each answer starts with"},
    {"create_delay", PORTD_OPT_DURATION, "\"0s\"", "how long making an instance takes"},
};

struct CounterConfig {
  explicit CounterConfig(const portd::sdk::Options& o)
      : label(o.getString("label")), create_delay_ms(o.getDurationMs("create_delay")) {}
  std::string label;
  uint64_t create_delay_ms;
};

class Counter {
 public:
  Counter(Worker w, const CounterConfig& c) : config_(c) {
    // On the worker's thread, which serves nothing else meanwhile.
    std::this_thread::sleep_for(std::chrono::milliseconds(c.create_delay_ms));
    w.log(PORTD_LOG_INFO, "instance made");
  }

  void onOpen(Conn c) { c.write(next() + "\n"); }
  void onData(Conn, std::string_view) {}
  void onDatagram(portd::sdk::Datagram d, const sockaddr* peer, std::string_view) {
    d.reply(peer, next());
  }

 private:
  std::string next() { return config_.label + " n=" + std::to_string(++served_); }

  const CounterConfig& config_;
  uint64_t served_ = 0;
};

const portd_handler_def kHandlers[] = {
    portd::sdk::makeHandler<MisbehaveConfig, Misbehave>(
        "misbehave", "breaks the rules on request", PORTD_TCP, kMisbehaveOptions,
        sizeof(kMisbehaveOptions) / sizeof(kMisbehaveOptions[0])),
    portd::sdk::makeHandler<PickyConfig, Picky>("picky", "rejects level > 10", PORTD_TCP,
                                                kPickyOptions,
                                                sizeof(kPickyOptions) / sizeof(kPickyOptions[0])),
    portd::sdk::makeHandler<CounterConfig, Counter>(
        "counter", "counts what it served", PORTD_TCP | PORTD_UDP, kCounterOptions,
        sizeof(kCounterOptions) / sizeof(kCounterOptions[0])),
};

}  // namespace

PORTD_PLUGIN("misbehave", "0.0.1", kHandlers)
