#include "handlers/abi/host_api.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <cstring>
#include <string_view>
#include <variant>

#include "config/options.h"
#include "core/loop_context.h"
#include "handlers/abi/abi_worker.h"
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

// Looks up an open connection of the calling thread's worker, or reports the misuse.
net::Connection* connection(uint64_t id, const char* function, int* status) {
  core::LoopContext* ctx = core::LoopContext::current();
  if (ctx == nullptr) {
    *status = PORTD_EWRONGTHREAD;
    return nullptr;
  }
  net::Connection* c = ctx->connections().get(id);
  if (c == nullptr) {
    *status = misuse(ctx, function, id);
    return nullptr;
  }
  if (c->isClosing()) {
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
int pauseReading(portd_conn_t id) {
  return act<&net::Connection::pauseReading>(id, "pause_reading");
}
int resumeReading(portd_conn_t id) {
  return act<&net::Connection::resumeReading>(id, "resume_reading");
}

int setConnData(portd_conn_t id, void* data) {
  core::LoopContext* ctx = core::LoopContext::current();
  if (ctx == nullptr) return PORTD_EWRONGTHREAD;
  // Allowed while closing too: on_close is where a handler clears and frees its state.
  net::Connection* c = ctx->connections().get(id);
  if (c == nullptr) return misuse(ctx, "set_conn_data", id);
  c->setHandlerData(data);
  return PORTD_OK;
}

void* connData(portd_conn_t id) {
  core::LoopContext* ctx = core::LoopContext::current();
  if (ctx == nullptr) return nullptr;
  net::Connection* c = ctx->connections().get(id);
  if (c == nullptr) {
    misuse(ctx, "conn_data", id);
    return nullptr;
  }
  return c->handlerData();
}

int peerAddress(portd_conn_t id, sockaddr_storage* out) {
  core::LoopContext* ctx = core::LoopContext::current();
  if (ctx == nullptr) return PORTD_EWRONGTHREAD;
  net::Connection* c = ctx->connections().get(id);
  if (c == nullptr) return misuse(ctx, "peer_address", id);
  if (out == nullptr) return PORTD_EINVAL;
  int len = c->peerName(out);
  return len > 0 ? len : PORTD_ECLOSED;
}

int reply(portd_dgram* socket, const sockaddr* peer, const void* data, size_t len) {
  if (socket == nullptr || peer == nullptr || (data == nullptr && len > 0)) return PORTD_EINVAL;
  reinterpret_cast<net::UdpSocket*>(socket)->reply(
      peer, std::string_view(static_cast<const char*>(data), len));
  return PORTD_OK;
}

portd_timer_t timerStart(portd_worker* w, uint64_t delay_ms, portd_timer_cb cb, void* arg) {
  core::LoopContext* ctx = core::LoopContext::current();
  if (w == nullptr || cb == nullptr || ctx == nullptr || ctx != w->loop) return 0;
  return ctx->timers().start(delay_ms, cb, arg, w);
}

int timerStop(portd_timer_t id) {
  core::LoopContext* ctx = core::LoopContext::current();
  if (ctx == nullptr) return PORTD_EWRONGTHREAD;
  // Stopping a timer that has just fired is normal, not misuse: handlers race their own timers.
  return ctx->timers().stop(id) ? PORTD_OK : PORTD_ECLOSED;
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
