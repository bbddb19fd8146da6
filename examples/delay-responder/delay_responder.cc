// delay-responder: a portd handler plugin in C++, built on <portd/handler.hpp>.
//
// A line-oriented TCP protocol. Each line received is answered `delay` later, in order, with
// a per-connection line number: "hello" is answered "3: hello" if it is the connection's third
// line (with `prefix` in front, when set). A line longer than `max_line` bytes is answered
// with an error line once the lines before it have been answered, and the connection closes.
//
// Shows: options, per-connection state, a timer per connection, pausing reading so that the
// lines waiting for their answer stay few, a named counter, and cleaning up in onClose.
#include <chrono>
#include <cstdint>
#include <deque>
#include <portd/handler.hpp>
#include <string>
#include <string_view>

namespace {

using portd::sdk::Conn;
using portd::sdk::Worker;
using Clock = std::chrono::steady_clock;

// Lines waiting for their answer before the connection stops reading.
constexpr size_t kMaxPendingLines = 64;

const portd_option_def kOptions[] = {
    {"delay", PORTD_OPT_DURATION, "\"100ms\"", "how long after a line arrives it is answered"},
    {"prefix", PORTD_OPT_STRING, "\"\"", "text put before each answer"},
    {"max_line", PORTD_OPT_SIZE, "\"4KiB\"", "longest line accepted, without its newline"},
};

// Built once per listener on the main thread, then shared read-only by every worker.
struct Config {
  explicit Config(const portd::sdk::Options& o)
      : delay(std::chrono::milliseconds(o.getDurationMs("delay"))),
        prefix(o.getString("prefix")),
        max_line(o.getSize("max_line")) {
    if (delay > std::chrono::hours(1)) {
      throw portd::sdk::ConfigError("delay: must be at most 1h");
    }
    if (max_line < 1 || max_line > (1u << 20)) {
      throw portd::sdk::ConfigError("max_line: must be between 1 and 1MiB");
    }
  }
  std::chrono::milliseconds delay;
  std::string prefix;
  uint64_t max_line;
};

class Instance;

// Per connection, owned by the handler: created in onOpen, deleted in onClose.
struct Session {
  struct Line {
    std::string text;
    Clock::time_point due;
  };

  Session(Instance* i, Conn c) : instance(i), conn(c) {}
  void onTimer();  // the timer for the oldest pending line fired

  Instance* instance;
  Conn conn;
  std::string partial;       // bytes of a line whose newline has not arrived yet
  std::deque<Line> pending;  // lines waiting for their answer, oldest first
  portd_timer_t timer = 0;   // set while a timer runs for pending.front()
  uint64_t answered = 0;
  bool paused = false;
  bool too_long = false;     // an over-long line arrived: answer the rest, then fail
  bool peer_closed = false;  // no more input: close once everything is answered
};

// One per worker per listener; every callback runs on that worker's thread.
class Instance {
 public:
  Instance(Worker w, const Config& c) : worker_(w), config_(c), lines_(w.counter("lines")) {}

  void onOpen(Conn c) { c.setData(new Session(this, c)); }

  void onData(Conn c, std::string_view data) {
    Session& s = *c.data<Session>();
    if (s.too_long) {
      return;  // the connection is failing; ignore what still arrives
    }
    while (!data.empty()) {
      size_t nl = data.find('\n');
      std::string_view piece = data.substr(0, nl);  // the whole rest if there is no newline
      // One byte more than max_line may be a CR before the newline.
      if (s.partial.size() + piece.size() > config_.max_line + 1) {
        s.too_long = true;
        break;
      }
      s.partial.append(piece);
      if (nl == std::string_view::npos) {
        break;
      }
      data.remove_prefix(nl + 1);
      if (!s.partial.empty() && s.partial.back() == '\r') {
        s.partial.pop_back();
      }
      if (s.partial.size() > config_.max_line) {
        s.too_long = true;
        break;
      }
      enqueue(s, std::move(s.partial));
      s.partial.clear();
    }
    if ((s.too_long || s.pending.size() >= kMaxPendingLines) && !s.paused) {
      s.paused = true;
      c.pauseReading();
    }
    next(s);
  }

  void onPeerClosed(Conn c) {
    Session& s = *c.data<Session>();
    s.peer_closed = true;
    if (!s.partial.empty() && !s.too_long) {
      enqueue(s, std::move(s.partial));  // a last line without its newline
      s.partial.clear();
    }
    next(s);
  }

  void onClose(Conn c) {
    Session* s = c.data<Session>();
    if (s == nullptr) {
      return;  // onOpen failed before the Session was set
    }
    if (s->timer != 0) {
      worker_.stopTimer(s->timer);  // its id must not fire into a deleted Session
    }
    delete s;
  }

  // Answers what is due, then starts a timer for the next pending line or finishes.
  //
  // A host function that ends the connection (write() failing, close(), abort()) may run
  // onClose() before it returns, which deletes the Session: after such a call, and after a
  // write() that returned an error, `s` is not touched again.
  void next(Session& s) {
    auto now = Clock::now();
    while (!s.pending.empty() && s.pending.front().due <= now) {
      if (!answer(s)) {
        return;
      }
    }
    if (!s.pending.empty()) {
      if (s.timer == 0) {
        auto wait = std::chrono::ceil<std::chrono::milliseconds>(s.pending.front().due - now);
        s.timer = worker_.startTimer<&Session::onTimer>(static_cast<uint64_t>(wait.count()), &s);
        if (s.timer == 0) {
          worker_.log(PORTD_LOG_ERROR, "no timer available; closing the connection");
          s.conn.abort();
        }
      }
      return;
    }
    if (s.too_long) {
      Conn c = s.conn;
      if (c.write("error: line longer than " + std::to_string(config_.max_line) + " bytes\n") >=
          0) {
        c.close();
      }
    } else if (s.peer_closed) {
      s.conn.close();
    } else if (s.paused) {
      s.paused = false;
      s.conn.resumeReading();
    }
  }

 private:
  void enqueue(Session& s, std::string line) {
    s.pending.push_back({std::move(line), Clock::now() + config_.delay});
  }

  // False when the connection is gone (and `s` may be too).
  bool answer(Session& s) {
    std::string reply =
        config_.prefix + std::to_string(++s.answered) + ": " + s.pending.front().text + "\n";
    s.pending.pop_front();
    worker_.add(lines_);
    return s.conn.write(reply) >= 0;
  }

  Worker worker_;
  const Config& config_;
  int lines_;
};

void Session::onTimer() {
  timer = 0;  // a timer that fired is stale
  instance->next(*this);
}

const portd_handler_def kHandlers[] = {
    portd::sdk::makeHandler<Config, Instance>(
        "delay", "answers each line after a delay, numbered per connection", PORTD_TCP, kOptions,
        sizeof(kOptions) / sizeof(kOptions[0])),
};

}  // namespace

PORTD_PLUGIN("delay-responder", "1.0.0", kHandlers)
