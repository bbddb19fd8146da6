// Handlers that exercise the edges of the handler interface, for abi_edges_test.cc.
//
// "bulk" (TCP): answers each line with `size` bytes. With `careful` it follows the
//   backpressure rules: when write() refuses (PORTD_EAGAIN) it keeps the lines not yet answered
//   (keep_input) and goes on when portd hands them over again after on_writable. Without it, it
//   ignores refusals, as a careless handler would; either way portd bounds the output. With
//   `drain_close` it closes a connection on drain when it has nothing kept.
// "stash" (TCP and UDP), one command per line or datagram:
//   mine      remembers this connection's id in a global, for another instance to misuse
//   other     writes to the remembered id and answers the status it got
//   remember  (UDP) remembers this datagram socket's id in a global
//   use       (UDP) replies through the remembered socket id, and answers the status on this one
//   close     closes the connection and logs what is_open() says afterwards; on_close logs
//             what it says there
//   pause     pauses reading, keeps the rest of what arrived, and resumes 200 ms later
//   ping      answers "pong", or "early" if it arrives while reading is paused
//   refuse    answers "refused" and closes with close_lingering (ABI 1.3), as a handler does
//             that refuses a request before the peer has sent all of it
//   refuse-close  the same with close()
//   Its config logs, when released, whether that happened on the main thread.
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <portd/handler.hpp>
#include <string>
#include <string_view>

namespace {

using portd::sdk::Conn;
using portd::sdk::Datagram;
using portd::sdk::Worker;

const portd_option_def kBulkOptions[] = {
    {"size", PORTD_OPT_SIZE, "\"256KiB\"", "bytes per answer"},
    {"careful", PORTD_OPT_BOOL, "true", "follow the backpressure rules"},
    {"drain_close", PORTD_OPT_BOOL, "false", "close on drain"},
};

struct BulkConfig {
  explicit BulkConfig(const portd::sdk::Options& o)
      : answer(o.getSize("size"), 'x'),
        careful(o.getBool("careful")),
        drain_close(o.getBool("drain_close")) {}
  std::string answer;
  bool careful;
  bool drain_close;
};

class Bulk {
 public:
  Bulk(Worker w, const BulkConfig& c)
      : worker_(w), config_(c), answered_(w.counter("answered")), refused_(w.counter("refused")) {}

  void onData(Conn c, std::string_view data) {
    size_t line;
    while ((line = data.find('\n')) != std::string_view::npos) {
      int64_t rc = c.write(config_.answer);
      if (rc == PORTD_EAGAIN) {
        worker_.add(refused_);
        if (config_.careful) {
          c.keep(data.size());  // this line and the ones after it
          return;
        }
      } else if (rc >= 0) {
        worker_.add(answered_);
      }
      data.remove_prefix(line + 1);
    }
    if (!data.empty()) {
      c.keep(data.size());  // a partial line
    }
  }

  // Nothing to do here for the careful handler: portd hands the kept lines over again right
  // after this returns. Logged once per instance, so that a test can see it was called.
  void onWritable(Conn) {
    if (!said_writable_) {
      said_writable_ = true;
      worker_.log(PORTD_LOG_INFO, "bulk: on_writable");
    }
  }

  void onDrain(Conn c) {
    if (config_.drain_close) {
      c.close();
    }
  }

 private:
  Worker worker_;
  const BulkConfig& config_;
  int answered_;
  int refused_;
  bool said_writable_ = false;
};

const portd_host_api* g_host = nullptr;
std::atomic<portd_conn_t> g_conn{0};
std::atomic<portd_dgram_t> g_dgram{0};

struct StashConfig {
  explicit StashConfig(const portd::sdk::Options&) {}
  ~StashConfig() {
    if (g_host != nullptr) {
      bool main = ::syscall(SYS_gettid) == ::getpid();
      g_host->log(nullptr, PORTD_LOG_INFO,
                  main ? "stash: release_config on the main thread"
                       : "stash: release_config on another thread");
    }
  }
};

class Stash {
 public:
  Stash(Worker w, const StashConfig&) : worker_(w) { g_host = w.host(); }

  void onData(Conn c, std::string_view data) {
    size_t end = data.find('\n');
    std::string_view cmd = data.substr(0, end);
    if (cmd == "pause") {
      c.pauseReading();
      paused_ = c.id();
      worker_.startTimer<&Stash::resume>(200, this);
      // The commands after it are portd's to keep until reading resumes.
      if (end != std::string_view::npos && end + 1 < data.size()) {
        c.keep(data.size() - end - 1);
      }
      return;
    }
    if (cmd == "ping") {
      c.write(paused_ != 0 ? "early\n" : "pong\n");
    } else if (cmd == "mine") {
      g_conn = c.id();
      c.write("ok\n");
    } else if (cmd == "other") {
      int64_t rc = worker_.host()->write(g_conn.load(), "x", 1);
      c.write(std::to_string(rc) + "\n");
    } else if (cmd == "refuse" || cmd == "refuse-close") {
      c.write("refused\n");
      if (cmd == "refuse") {
        c.closeLingering();
      } else {
        c.close();
      }
    } else if (cmd == "close") {
      c.close();
      worker_.log(PORTD_LOG_INFO,
                  std::string("stash: is_open after close: ") + (c.isOpen() ? "1" : "0"));
    } else {
      c.write("?\n");
    }
  }

  void resume() {
    portd_conn_t conn = paused_;
    paused_ = 0;
    worker_.host()->resume_reading(conn);
  }

  void onClose(Conn c) {
    worker_.log(PORTD_LOG_INFO,
                std::string("stash: is_open in on_close: ") + (c.isOpen() ? "1" : "0"));
  }

  void onDatagram(Datagram d, const sockaddr* peer, std::string_view data) {
    if (data == "remember") {
      g_dgram = d.id();
      d.reply(peer, "ok");
    } else if (data == "use") {
      int rc = worker_.host()->reply(g_dgram.load(), peer, "stale", 5);
      d.reply(peer, std::to_string(rc));
    }
  }

 private:
  Worker worker_;
  portd_conn_t paused_ = 0;
};

const portd_handler_def kHandlers[] = {
    portd::sdk::makeHandler<BulkConfig, Bulk>("bulk", "answers each line with size bytes",
                                              PORTD_TCP, kBulkOptions,
                                              sizeof(kBulkOptions) / sizeof(kBulkOptions[0])),
    portd::sdk::makeHandler<StashConfig, Stash>("stash", "misuses ids on request",
                                                PORTD_TCP | PORTD_UDP, nullptr, 0),
};

}  // namespace

PORTD_PLUGIN("edges", "0.0.1", kHandlers)
