#include "handlers/abi/host_api.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <cstring>
#include <string_view>
#include <variant>

#include "config/options.h"
#include "core/loop_context.h"
#include "handlers/abi/abi_worker.h"
#include "handlers/abi/series_api.h"
#include "net/connection.h"
#include "net/listener_stats.h"
#include "net/udp_socket.h"

namespace portd::handlers::abi {

namespace {

const char* handlerName(const portd_worker* w) {
  return w != nullptr && w->def != nullptr ? w->def->name : "(unknown)";
}

// The instance on whose behalf a host function runs: the one whose callback or timer is
// running on this thread.
portd_worker* culprit(core::LoopContext* ctx) {
  if (portd_worker* w = dispatching()) {
    return w;
  }
  if (ctx != nullptr) {
    return static_cast<portd_worker*>(const_cast<void*>(ctx->timers().firingOwner()));
  }
  return nullptr;
}

// A plugin used an id that is stale: a bug in the plugin, reported once a second per instance
// and answered with PORTD_ECLOSED, never followed.
int misuse(core::LoopContext* ctx, const char* function, uint64_t id) {
  portd_worker* w = culprit(ctx);
  uint64_t suppressed = 0;
  if (w == nullptr) {
    spdlog::error("a handler called {}() with a stale id {:#x}", function, id);
  } else if (w->error_limit.allow(uv_now(w->loop->loop()), &suppressed)) {
    spdlog::error(
        "handler \"{}\" (listener \"{}\") called {}() with {:#x}, which is closed or never "
        "existed: this is a bug in the handler ({} similar errors suppressed)",
        handlerName(w), w->listener, function, id, suppressed);
  }
  return PORTD_ECLOSED;
}

// The calling worker's context: null (and PORTD_EWRONGTHREAD) on any thread that is not a
// worker's, the main thread's included (its loop serves the admin endpoint, not handlers).
core::LoopContext* workerContext(int* status) {
  core::LoopContext* ctx = core::LoopContext::current();
  if (ctx == nullptr || ctx->workerId() < 0) {
    *status = PORTD_EWRONGTHREAD;
    return nullptr;
  }
  return ctx;
}

// A connection of the calling worker that belongs to the instance whose callback or timer is
// running, open or closing; null (with `status` set and the misuse reported) otherwise. Ids
// are per worker, so an id from another worker or instance could name an object here by
// chance: the owner check makes it a refused id instead of someone else's connection.
net::Connection* anyConnection(uint64_t id, const char* function, int* status, bool report = true) {
  core::LoopContext* ctx = workerContext(status);
  if (ctx == nullptr) {
    return nullptr;
  }
  net::Connection* c = ctx->connections().get(id);
  portd_worker* w = culprit(ctx);
  if (c == nullptr || w == nullptr || &c->handler() != w->handler) {
    *status = report ? misuse(ctx, function, id) : PORTD_ECLOSED;
    return nullptr;
  }
  return c;
}

// As anyConnection(), for an open connection: a closing one gets PORTD_ECLOSED, unlogged.
net::Connection* connection(uint64_t id, const char* function, int* status) {
  net::Connection* c = anyConnection(id, function, status);
  if (c != nullptr && c->isClosing()) {
    *status = PORTD_ECLOSED;
    return nullptr;
  }
  return c;
}

template <typename T>
const T* option(const portd_options* o, const char* name) {
  if (o == nullptr || name == nullptr) {
    return nullptr;
  }
  const auto& values = reinterpret_cast<const config::Options*>(o)->values();
  auto it = values.find(name);
  return it == values.end() ? nullptr : std::get_if<T>(&it->second);
}

int optBool(const portd_options* o, const char* name, int* out) {
  const bool* v = option<bool>(o, name);
  if (v == nullptr) return PORTD_EINVAL;
  *out = *v ? 1 : 0;
  return PORTD_OK;
}

int optInt(const portd_options* o, const char* name, int64_t* out) {
  const int64_t* v = option<int64_t>(o, name);
  if (v == nullptr) return PORTD_EINVAL;
  *out = *v;
  return PORTD_OK;
}

int optString(const portd_options* o, const char* name, const char** out, size_t* len) {
  const std::string* v = option<std::string>(o, name);
  if (v == nullptr) return PORTD_EINVAL;
  *out = v->c_str();
  if (len != nullptr) *len = v->size();
  return PORTD_OK;
}

int optDuration(const portd_options* o, const char* name, uint64_t* out) {
  const config::Duration* v = option<config::Duration>(o, name);
  if (v == nullptr) return PORTD_EINVAL;
  *out = static_cast<uint64_t>(v->count());
  return PORTD_OK;
}

int optSize(const portd_options* o, const char* name, uint64_t* out) {
  const config::ByteSize* v = option<config::ByteSize>(o, name);
  if (v == nullptr) return PORTD_EINVAL;
  *out = v->bytes;
  return PORTD_OK;
}

int optIntList(const portd_options* o, const char* name, const int64_t** out, size_t* count) {
  const auto* v = option<std::vector<int64_t>>(o, name);
  if (v == nullptr) return PORTD_EINVAL;
  *out = v->data();
  *count = v->size();
  return PORTD_OK;
}

int64_t write(portd_conn_t id, const void* data, size_t len) {
  int status = 0;
  net::Connection* c = connection(id, "write", &status);
  if (c == nullptr) return status;
  if (data == nullptr && len > 0) return PORTD_EINVAL;
  // The bound on a connection's output: refused, not queued, once the limit is reached, so a
  // handler cannot buffer without bound however much it answers in one callback.
  if (len > 0 && c->queuedBytes() >= c->writeLimit()) {
    c->wantWritable();
    return PORTD_EAGAIN;
  }
  if (!c->write(std::string_view(static_cast<const char*>(data), len))) return PORTD_ECLOSED;
  return static_cast<int64_t>(c->queuedBytes());
}

// Each of these acts on a connection that is still open; on a closing one it does nothing.
template <void (net::Connection::*Action)()>
int act(portd_conn_t id, const char* function) {
  int status = 0;
  net::Connection* c = connection(id, function, &status);
  if (c == nullptr) return status;
  (c->*Action)();
  return PORTD_OK;
}

int closeConn(portd_conn_t id) { return act<&net::Connection::close>(id, "close"); }
int abortConn(portd_conn_t id) { return act<&net::Connection::abort>(id, "abort"); }
int closeLingering(portd_conn_t id) {
  return act<&net::Connection::closeLingering>(id, "close_lingering");
}
int pauseReading(portd_conn_t id) {
  return act<&net::Connection::pauseReading>(id, "pause_reading");
}
int resumeReading(portd_conn_t id) {
  return act<&net::Connection::resumeReading>(id, "resume_reading");
}

int setConnData(portd_conn_t id, void* data) {
  int status = 0;
  // Allowed while closing too: on_close is where a handler clears and frees its state.
  net::Connection* c = anyConnection(id, "set_conn_data", &status);
  if (c == nullptr) return status;
  c->setHandlerData(data);
  return PORTD_OK;
}

void* connData(portd_conn_t id) {
  int status = 0;
  net::Connection* c = anyConnection(id, "conn_data", &status);
  return c ? c->handlerData() : nullptr;
}

int peerAddress(portd_conn_t id, sockaddr_storage* out) {
  int status = 0;
  net::Connection* c = anyConnection(id, "peer_address", &status);
  if (c == nullptr) return status;
  if (out == nullptr) return PORTD_EINVAL;
  int len = c->peerName(out);
  return len > 0 ? len : PORTD_ECLOSED;
}

int64_t queuedBytes(portd_conn_t id) {
  int status = 0;
  net::Connection* c = anyConnection(id, "queued_bytes", &status);
  return c ? static_cast<int64_t>(c->queuedBytes()) : status;
}

int64_t writeLimit(portd_conn_t id) {
  int status = 0;
  net::Connection* c = anyConnection(id, "write_limit", &status);
  return c ? static_cast<int64_t>(c->writeLimit()) : status;
}

int keepInput(portd_conn_t id, size_t len) {
  int status = 0;
  net::Connection* c = connection(id, "keep_input", &status);
  if (c == nullptr) return status;
  if (len == 0) return PORTD_OK;
  return c->keepInput(len) ? PORTD_OK : PORTD_ENOMEM;
}

int isOpen(portd_conn_t id) {
  int status = 0;
  net::Connection* c = anyConnection(id, "is_open", &status, /*report=*/false);
  return c != nullptr && !c->isClosing() ? 1 : 0;
}

int reply(portd_dgram_t id, const sockaddr* peer, const void* data, size_t len) {
  int status = 0;
  core::LoopContext* ctx = workerContext(&status);
  if (ctx == nullptr) return status;
  if (peer == nullptr || (data == nullptr && len > 0)) return PORTD_EINVAL;
  net::UdpSocket* socket = ctx->datagramSockets().get(id);
  portd_worker* w = culprit(ctx);
  if (socket == nullptr || w == nullptr || &socket->handler() != w->handler) {
    return misuse(ctx, "reply", id);
  }
  socket->reply(peer, std::string_view(static_cast<const char*>(data), len));
  return PORTD_OK;
}

portd_timer_t timerStart(portd_worker* w, uint64_t delay_ms, portd_timer_cb cb, void* arg) {
  int status = 0;
  core::LoopContext* ctx = workerContext(&status);
  if (w == nullptr || cb == nullptr || ctx == nullptr || ctx != w->loop) return 0;
  return ctx->timers().start(delay_ms, cb, arg, w);
}

int timerStop(portd_timer_t id) {
  int status = 0;
  core::LoopContext* ctx = workerContext(&status);
  if (ctx == nullptr) return status;
  const void* owner = ctx->timers().ownerOf(id);
  // Stopping a timer that has just fired is normal, not misuse: handlers race their own timers.
  if (owner == nullptr) return PORTD_ECLOSED;
  if (owner != culprit(ctx)) return misuse(ctx, "timer_stop", id);
  ctx->timers().stop(id);
  return PORTD_OK;
}

// The one table of status codes and what they mean, for logs and for plugins.
const char* statusText(int status) {
  switch (status) {
    case PORTD_OK:
      return "success";
    case PORTD_ECLOSED:
      return "the connection, socket or timer is closed, or the id is not this instance's";
    case PORTD_EINVAL:
      return "invalid argument";
    case PORTD_ENOMEM:
      return "a bounded resource is exhausted";
    case PORTD_EWRONGTHREAD:
      return "called from a thread that is not the instance's worker";
    case PORTD_EAGAIN:
      return "the output queue is full (write_buffer_limit); wait for on_writable";
    default:
      return status < 0 ? "handler failure" : "unknown status";
  }
}

void log(portd_worker* w, int level, const char* message) {
  spdlog::level::level_enum l = spdlog::level::info;
  switch (level) {
    case PORTD_LOG_DEBUG:
      l = spdlog::level::debug;
      break;
    case PORTD_LOG_WARN:
      l = spdlog::level::warn;
      break;
    case PORTD_LOG_ERROR:
      l = spdlog::level::err;
      break;
    default:
      break;
  }
  if (w != nullptr) {
    spdlog::log(l, "handler \"{}\" (listener \"{}\"): {}", handlerName(w), w->listener,
                message ? message : "");
  } else {
    spdlog::log(l, "handler: {}", message ? message : "");
  }
}

// Names are registered only while the instance is created: the table is fixed from then on.
int counter(portd_worker* w, const char* name) {
  if (w == nullptr || name == nullptr || name[0] == '\0' || !w->creating) return PORTD_EINVAL;
  for (char ch : std::string_view(name)) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_')) return PORTD_EINVAL;
  }
  int index = w->stats->handler.index(name);
  return index < 0 ? PORTD_ENOMEM : index;
}

void counterAdd(portd_worker* w, int index, uint64_t delta) {
  if (w == nullptr || !w->stats->handler.valid(index)) {
    return;
  }
  w->stats->handler.add(index, delta);
}

const portd_host_api kHostApi = {
    PORTD_ABI_VERSION,
    sizeof(portd_host_api),
    optBool,
    optInt,
    optString,
    optDuration,
    optSize,
    optIntList,
    write,
    closeConn,
    abortConn,
    pauseReading,
    resumeReading,
    setConnData,
    connData,
    peerAddress,
    reply,
    timerStart,
    timerStop,
    log,
    counter,
    counterAdd,
    queuedBytes,
    writeLimit,
    keepInput,
    isOpen,
    statusText,
    // ABI 1.2: labelled series.
    seriesDeclare,
    seriesOpen,
    seriesAdd,
    seriesSet,
    seriesClose,
    // ABI 1.3.
    closeLingering,
};

}  // namespace

const portd_host_api* hostApi() { return &kHostApi; }

void reportHandlerError(portd_worker* w, const char* what, int status, const char* outcome) {
  ++w->stats->handler_errors;
  uint64_t suppressed = 0;
  if (w->error_limit.allow(uv_now(w->loop->loop()), &suppressed)) {
    spdlog::error(
        "handler \"{}\" (listener \"{}\"): {} failed with status {}; {} ({} similar errors "
        "suppressed)",
        handlerName(w), w->listener, what, status, outcome, suppressed);
  }
}

}  // namespace portd::handlers::abi
