// portd handler interface: a header-only C++ layer over <portd/handler.h>.
//
// A handler is two classes: a Config, built once per listener from its options (throw
// portd::sdk::ConfigError to reject them), and an Instance, built once per worker, whose
// member functions are the callbacks it wants. makeHandler<Config, Instance>() turns them into
// the C table; no C++ type and no exception crosses the ABI.
//
//   struct Config { explicit Config(const portd::sdk::Options& o); };
//   struct Instance {
//     Instance(portd::sdk::Worker w, const Config& c);
//     void onOpen(portd::sdk::Conn c);                       // each of these is optional
//     void onData(portd::sdk::Conn c, std::string_view data);
//     void onPeerClosed(portd::sdk::Conn c);
//     void onClose(portd::sdk::Conn c);
//     void onWritable(portd::sdk::Conn c);   // output fell below the limit: write more
//     void onDrain(portd::sdk::Conn c);      // SIGTERM: close when natural
//     void onDatagram(portd::sdk::Datagram d, const sockaddr* peer, std::string_view data);
//   };
//
// An exception escaping a callback is caught at the boundary and reported like a negative
// return in C: the connection is aborted and the error logged.
#pragma once

#include <portd/handler.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace portd::sdk {

// Thrown from a Config's constructor to reject a listener's options.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Options {
 public:
  Options(const portd_host_api* host, const portd_options* o) : host_(host), o_(o) {}

  bool getBool(const char* name) const {
    int v = 0;
    check(host_->opt_bool(o_, name, &v), name);
    return v != 0;
  }
  int64_t getInt(const char* name) const {
    int64_t v = 0;
    check(host_->opt_int(o_, name, &v), name);
    return v;
  }
  std::string_view getString(const char* name) const {
    const char* s = nullptr;
    size_t n = 0;
    check(host_->opt_string(o_, name, &s, &n), name);
    return {s, n};
  }
  uint64_t getDurationMs(const char* name) const {
    uint64_t v = 0;
    check(host_->opt_duration_ms(o_, name, &v), name);
    return v;
  }
  uint64_t getSize(const char* name) const {
    uint64_t v = 0;
    check(host_->opt_size(o_, name, &v), name);
    return v;
  }
  std::span<const int64_t> getIntList(const char* name) const {
    const int64_t* v = nullptr;
    size_t n = 0;
    check(host_->opt_int_list(o_, name, &v, &n), name);
    return {v, n};
  }

 private:
  static void check(int status, const char* name) {
    if (status != PORTD_OK) {
      throw ConfigError(std::string("no option \"") + name + "\" of that type in the schema");
    }
  }
  const portd_host_api* host_;
  const portd_options* o_;
};

// A connection id with the host's functions. Cheap to copy; compare with id().
class Conn {
 public:
  Conn(const portd_host_api* host, portd_conn_t id) : host_(host), id_(id) {}

  // Returns the bytes still queued for the peer, or a negative PORTD_E* status: PORTD_EAGAIN
  // (nothing queued) while write_buffer_limit is reached; onWritable() follows.
  int64_t write(std::string_view data) const { return host_->write(id_, data.data(), data.size()); }
  // In onData only: keep the last n bytes of its data for the next onData (a partial
  // message). PORTD_ENOMEM when that would keep more than write_buffer_limit.
  int keep(size_t n) const { return host_->keep_input(id_, n); }
  // Whether the connection is still open: after a write() or close() that may have run
  // onClose re-entrantly, ask this before touching per-connection state.
  bool isOpen() const { return host_->is_open(id_) == 1; }
  int64_t queuedBytes() const { return host_->queued_bytes(id_); }
  int64_t writeLimit() const { return host_->write_limit(id_); }
  int close() const { return host_->close(id_); }
  // close() for a peer that may still be sending (a request refused before all of it was
  // read): the answer is not lost to a reset (see close_lingering in handler.h). A portd older
  // than ABI 1.3 closes as close() does.
  int closeLingering() const {
    return PORTD_HOST_HAS(host_, close_lingering) ? host_->close_lingering(id_) : host_->close(id_);
  }
  int abort() const { return host_->abort(id_); }
  int pauseReading() const { return host_->pause_reading(id_); }
  int resumeReading() const { return host_->resume_reading(id_); }
  template <typename T>
  T* data() const {
    return static_cast<T*>(host_->conn_data(id_));
  }
  int setData(void* p) const { return host_->set_conn_data(id_, p); }
  portd_conn_t id() const { return id_; }

 private:
  const portd_host_api* host_;
  portd_conn_t id_;
};

// The socket a datagram arrived on. Its id may be kept (to answer later, from a timer); once
// a reload replaces the socket, reply() on it returns PORTD_ECLOSED.
class Datagram {
 public:
  Datagram(const portd_host_api* host, portd_dgram_t socket) : host_(host), socket_(socket) {}
  int reply(const sockaddr* peer, std::string_view data) const {
    return host_->reply(socket_, peer, data.data(), data.size());
  }
  portd_dgram_t id() const { return socket_; }

 private:
  const portd_host_api* host_;
  portd_dgram_t socket_;
};

// One worker's view of the listener: timers, log and counters.
class Worker {
 public:
  Worker(const portd_host_api* host, portd_worker* w) : host_(host), w_(w) {}

  // Calls (object->*Method)() once after delay_ms on this worker; no allocation.
  template <auto Method, typename T>
  portd_timer_t startTimer(uint64_t delay_ms, T* object) const {
    return host_->timer_start(
        w_, delay_ms, [](void* arg) { (static_cast<T*>(arg)->*Method)(); }, object);
  }
  portd_timer_t startTimer(uint64_t delay_ms, portd_timer_cb cb, void* arg) const {
    return host_->timer_start(w_, delay_ms, cb, arg);
  }
  int stopTimer(portd_timer_t timer) const { return host_->timer_stop(timer); }

  void log(int level, const std::string& message) const { host_->log(w_, level, message.c_str()); }
  // Call in the Instance constructor; returns the index for add().
  int counter(const char* name) const {
    int c = host_->counter(w_, name);
    if (c < 0) {
      throw std::runtime_error(std::string("cannot register counter ") + name);
    }
    return c;
  }
  void add(int counter, uint64_t delta = 1) const { host_->counter_add(w_, counter, delta); }

  const portd_host_api* host() const { return host_; }
  portd_worker* handle() const { return w_; }

 private:
  const portd_host_api* host_;
  portd_worker* w_;
};

// Counters and gauges kept per value of one label whose values come and go, e.g. per peer
// (ABI 1.2; see series_declare in <portd/handler.h> for the names, limits and metrics). Built
// in the Instance constructor; on a portd older than ABI 1.2 it is unavailable: open()
// returns 0 and every call with 0 does nothing, so a handler needs no test of its own.
//
//   const char* const kCounters[] = {"received", "lost"};
//   const char* const kGauges[] = {"jitter_seconds"};
//   LabelledSeries peers(w, "peer", max_peers, kCounters, kGauges);   // in the constructor
//   portd_series_t s = peers.open("127.0.0.1:40112");  // 0: max_peers are live
//   peers.add(s, 0);  peers.set(s, 0, 0.0012);  ...  peers.close(s);
class LabelledSeries {
 public:
  LabelledSeries() = default;
  LabelledSeries(Worker w, const char* label, uint32_t max_values,
                 std::span<const char* const> counters, std::span<const char* const> gauges = {})
      : host_(w.host()), w_(w.handle()) {
    if (!PORTD_HOST_HAS(host_, series_declare)) {
      return;
    }
    set_ = host_->series_declare(w_, label, max_values, counters.data(), counters.size(),
                                 gauges.data(), gauges.size());
    if (set_ < 0) {
      throw std::runtime_error(std::string("cannot declare the series of label ") + label);
    }
  }

  bool available() const { return set_ >= 0; }
  // The series of `value`, each figure at 0. 0 when max_values are live already, when the
  // value is refused (empty, too long, not UTF-8) or when series are unavailable.
  portd_series_t open(std::string_view value) const {
    portd_series_t s = 0;
    if (set_ < 0 || host_->series_open(w_, set_, value.data(), value.size(), &s) != PORTD_OK) {
      return 0;
    }
    return s;
  }
  // The hot path: a few instructions, no lock. `counter` and `gauge` index the names given to
  // the constructor.
  void add(portd_series_t s, int counter, uint64_t delta = 1) const {
    if (s != 0) {
      host_->series_add(w_, s, counter, delta);
    }
  }
  void set(portd_series_t s, int gauge, double value) const {
    if (s != 0) {
      host_->series_set(w_, s, gauge, value);
    }
  }
  // Removes the value's series from the metrics; `s` is stale afterwards.
  void close(portd_series_t s) const {
    if (s != 0) {
      host_->series_close(w_, s);
    }
  }

 private:
  const portd_host_api* host_ = nullptr;
  portd_worker* w_ = nullptr;
  int set_ = -1;
};

namespace detail {

// Logs at most one line a second, saying how many it held back, so that a handler failing on
// every request cannot flood the log (portd's own report of the failure is limited the same way).
class ErrorLog {
 public:
  void report(const portd_host_api* host, portd_worker* w, const std::string& what) {
    auto now = std::chrono::steady_clock::now();
    if (logged_ && now - last_ < std::chrono::seconds(1)) {
      ++held_back_;
      return;
    }
    std::string line = what;
    if (held_back_ > 0) {
      line += " (" + std::to_string(held_back_) + " similar errors held back)";
    }
    host->log(w, PORTD_LOG_ERROR, line.c_str());
    logged_ = true;
    last_ = now;
    held_back_ = 0;
  }

 private:
  std::chrono::steady_clock::time_point last_{};
  uint64_t held_back_ = 0;
  bool logged_ = false;
};

// Runs f, turning an escaping exception into a failure status, logged with its message:
// exceptions never cross the ABI.
template <typename F>
int guard(const portd_host_api* host, portd_worker* w, ErrorLog& log, const char* callback,
          F&& f) noexcept {
  try {
    f();
    return 0;
  } catch (const std::exception& e) {
    try {
      log.report(host, w, std::string(callback) + " threw: " + e.what());
    } catch (...) {
    }
  } catch (...) {
    try {
      log.report(host, w, std::string(callback) + " threw");
    } catch (...) {
    }
  }
  return -1;
}

template <typename Config, typename Instance>
struct Bridge {
  struct Box {
    const portd_host_api* host;
    portd_worker* worker;
    Instance instance;
    ErrorLog errors{};

    template <typename F>
    int run(const char* callback, F&& f) noexcept {
      return guard(host, worker, errors, callback, std::forward<F>(f));
    }
  };

  static void* configure(const portd_host_api* host, const portd_options* o, char* error,
                         size_t error_len) noexcept {
    try {
      return new Config(Options(host, o));
    } catch (const std::exception& e) {
      std::snprintf(error, error_len, "%s", e.what());
    } catch (...) {
      std::snprintf(error, error_len, "the handler rejected its options");
    }
    return nullptr;
  }
  static void releaseConfig(void* config) noexcept { delete static_cast<Config*>(config); }

  static void* create(const portd_host_api* host, portd_worker* w, const void* config) noexcept {
    try {
      return new Box{host, w, Instance(Worker(host, w), *static_cast<const Config*>(config))};
    } catch (const std::exception& e) {
      host->log(w, PORTD_LOG_ERROR, (std::string("create failed: ") + e.what()).c_str());
    } catch (...) {
      host->log(w, PORTD_LOG_ERROR, "create failed");
    }
    return nullptr;
  }
  static void destroy(void* box) noexcept { delete static_cast<Box*>(box); }

  static Box& box(void* p) { return *static_cast<Box*>(p); }

  static int onOpen(void* p, portd_conn_t c) noexcept {
    Box& b = box(p);
    return b.run("on_open", [&] { b.instance.onOpen(Conn(b.host, c)); });
  }
  static int onData(void* p, portd_conn_t c, const void* data, size_t len) noexcept {
    Box& b = box(p);
    return b.run("on_data", [&] {
      b.instance.onData(Conn(b.host, c), std::string_view(static_cast<const char*>(data), len));
    });
  }
  static int onPeerClosed(void* p, portd_conn_t c) noexcept {
    Box& b = box(p);
    return b.run("on_peer_closed", [&] { b.instance.onPeerClosed(Conn(b.host, c)); });
  }
  static void onClose(void* p, portd_conn_t c) noexcept {
    Box& b = box(p);
    b.run("on_close", [&] { b.instance.onClose(Conn(b.host, c)); });
  }
  static int onWritable(void* p, portd_conn_t c) noexcept {
    Box& b = box(p);
    return b.run("on_writable", [&] { b.instance.onWritable(Conn(b.host, c)); });
  }
  static int onDrain(void* p, portd_conn_t c) noexcept {
    Box& b = box(p);
    return b.run("on_drain", [&] { b.instance.onDrain(Conn(b.host, c)); });
  }
  static int onDatagram(void* p, portd_dgram_t s, const sockaddr* peer, const void* data,
                        size_t len) noexcept {
    Box& b = box(p);
    return b.run("on_datagram", [&] {
      b.instance.onDatagram(Datagram(b.host, s), peer,
                            std::string_view(static_cast<const char*>(data), len));
    });
  }
};

}  // namespace detail

// The C table for a handler made of Config and Instance. Callbacks the Instance does not
// define stay NULL, so portd applies its defaults.
template <typename Config, typename Instance>
constexpr portd_handler_def makeHandler(const char* name, const char* description,
                                        unsigned protocols, const portd_option_def* options,
                                        size_t option_count) {
  using B = detail::Bridge<Config, Instance>;
  portd_handler_def d{};
  d.size = sizeof(portd_handler_def);
  d.option_size = sizeof(portd_option_def);
  d.name = name;
  d.description = description;
  d.protocols = protocols;
  d.options = options;
  d.option_count = option_count;
  d.configure = &B::configure;
  d.release_config = &B::releaseConfig;
  d.create = &B::create;
  d.destroy = &B::destroy;
  if constexpr (requires(Instance & i, Conn c) { i.onOpen(c); }) {
    d.on_open = &B::onOpen;
  }
  if constexpr (requires(Instance & i, Conn c, std::string_view s) { i.onData(c, s); }) {
    d.on_data = &B::onData;
  }
  if constexpr (requires(Instance & i, Conn c) { i.onPeerClosed(c); }) {
    d.on_peer_closed = &B::onPeerClosed;
  }
  if constexpr (requires(Instance & i, Conn c) { i.onClose(c); }) {
    d.on_close = &B::onClose;
  }
  if constexpr (requires(Instance & i, Conn c) { i.onWritable(c); }) {
    d.on_writable = &B::onWritable;
  }
  if constexpr (requires(Instance & i, Conn c) { i.onDrain(c); }) {
    d.on_drain = &B::onDrain;
  }
  if constexpr (requires(Instance & i, Datagram g, const sockaddr* a, std::string_view s) {
                  i.onDatagram(g, a, s);
                }) {
    d.on_datagram = &B::onDatagram;
  }
  return d;
}

}  // namespace portd::sdk

// Defines portd_plugin_entry() for a plugin whose handlers are in the array `handlers`.
#define PORTD_PLUGIN(plugin_name, plugin_version, handlers)                   \
  extern "C" PORTD_EXPORT const portd_plugin* portd_plugin_entry(void) {      \
    static const portd_plugin plugin{PORTD_ABI_VERSION,                       \
                                     sizeof(portd_plugin),                    \
                                     sizeof(portd_handler_def),               \
                                     plugin_name,                             \
                                     plugin_version,                          \
                                     handlers,                                \
                                     sizeof(handlers) / sizeof(handlers[0])}; \
    return &plugin;                                                           \
  }
