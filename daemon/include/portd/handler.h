/*
 * portd handler interface, C ABI version 1.
 *
 * A plugin is a shared object that exports one function, portd_plugin_entry(), returning a
 * table that describes its handlers. portd loads it with dlopen() when a [[plugin]] entry of
 * the configuration names it. Only C types cross this boundary; a C++ plugin may use
 * <portd/handler.hpp>, a header-only wrapper over this file.
 *
 * Threading. portd runs one event loop per worker thread. configure() and release_config()
 * run on the main thread; every other callback of a handler instance, and every host function
 * that takes a connection, datagram socket or timer of that instance, runs on the instance's
 * own worker thread. No callback may block: a handler that needs to wait starts a timer.
 *
 * Buffers. Data passed to a callback is valid only until the callback returns; copy what must
 * be kept. Data passed to a host function is copied (or sent) before it returns.
 *
 * Connections and timers are named by 64-bit ids that carry a generation: once a connection
 * is closed (after on_close returns) or a timer has fired or been stopped, its id is stale
 * forever, and a host function given a stale id does nothing, logs the misuse naming the
 * handler, and returns PORTD_ECLOSED. Using a stale id is a bug in the plugin, but never a
 * crash of the daemon.
 *
 * Errors. A callback returns 0 on success. A negative return means the handler failed on this
 * connection: portd logs it and aborts the connection. Failures and misuse are logged at most
 * once a second per handler instance (that is, per worker), with a count of those held back.
 *
 * Re-entrancy. close() on a connection with nothing queued, abort(), and a write() that finds
 * the connection broken close it at once: on_close runs for it before that host function
 * returns. Do not touch per-connection state after calling them unless on_close leaves it
 * valid. When an instance is destroyed (destroy), its pending timers are cancelled first.
 */
#ifndef PORTD_HANDLER_H
#define PORTD_HANDLER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change of the structures or functions below. */
#define PORTD_ABI_VERSION 1u

#if defined(__GNUC__)
#define PORTD_EXPORT __attribute__((visibility("default")))
#else
#define PORTD_EXPORT
#endif

/* Status codes of host functions. */
#define PORTD_OK 0
#define PORTD_ECLOSED (-1) /* the connection or timer id is stale or closing */
#define PORTD_EINVAL (-2)  /* a bad argument (unknown option, wrong type, NULL) */
#define PORTD_ENOMEM (-3)  /* a bounded resource is exhausted */
#define PORTD_EWRONGTHREAD (-4)

/* Transports; a bit set. */
#define PORTD_TCP 1u
#define PORTD_UDP 2u

/* Log levels, as in the daemon's [log] level. */
enum portd_log_level {
  PORTD_LOG_DEBUG = 1,
  PORTD_LOG_INFO = 2,
  PORTD_LOG_WARN = 3,
  PORTD_LOG_ERROR = 4
};

/* Option types, checked by portd's configuration loader before a handler sees a value. */
enum portd_option_type {
  PORTD_OPT_BOOL = 1,
  PORTD_OPT_INT = 2, /* int64_t */
  PORTD_OPT_STRING = 3,
  PORTD_OPT_DURATION = 4, /* written "250ms", "10s"; read as milliseconds */
  PORTD_OPT_SIZE = 5,     /* written 4096 or "64KiB"; read as bytes */
  PORTD_OPT_INT_LIST = 6  /* written [1, 2, 3] */
};

/* One entry of a handler's option schema. The default is a TOML value written as it would be
 * in the configuration file: "true", "42", "\"hello\"", "\"250ms\"", "\"64KiB\"", "[7, 13]".
 * Every option has a default, so a listener may leave any of them out. */
typedef struct portd_option_def {
  const char* name;
  int type; /* enum portd_option_type */
  const char* default_value;
  const char* help;
} portd_option_def;

typedef uint64_t portd_conn_t;              /* a connection; 0 is never a valid id */
typedef uint64_t portd_timer_t;             /* a timer; 0 is never a valid id */
typedef struct portd_options portd_options; /* a listener's validated options */
typedef struct portd_worker portd_worker;   /* one worker's view of one listener */
typedef struct portd_dgram portd_dgram;     /* the socket a datagram arrived on */

typedef void (*portd_timer_cb)(void* arg);

/* The functions portd offers a handler. Passed to configure() and create(); the pointer stays
 * valid for as long as the plugin is loaded. */
typedef struct portd_host_api {
  uint32_t abi_version;
  uint32_t size; /* sizeof(portd_host_api) of the host, for later additions */

  /* Options: 0 and *out set, or PORTD_EINVAL for an unknown name or another type. A string
   * stays valid as long as the options (until release_config). */
  int (*opt_bool)(const portd_options* o, const char* name, int* out);
  int (*opt_int)(const portd_options* o, const char* name, int64_t* out);
  int (*opt_string)(const portd_options* o, const char* name, const char** out, size_t* len);
  int (*opt_duration_ms)(const portd_options* o, const char* name, uint64_t* out);
  int (*opt_size)(const portd_options* o, const char* name, uint64_t* out);
  int (*opt_int_list)(const portd_options* o, const char* name, const int64_t** out, size_t* count);

  /* Connections (worker thread). write() queues len bytes and returns how many bytes are
   * still queued for the peer afterwards (0 when the kernel took everything), or a negative
   * status. While more than the listener's write_buffer_limit is queued portd stops reading
   * from the connection by itself. */
  int64_t (*write)(portd_conn_t conn, const void* data, size_t len);
  /* Stop reading, send what is queued, then close. */
  int (*close)(portd_conn_t conn);
  /* Close now, dropping queued output. */
  int (*abort)(portd_conn_t conn);
  int (*pause_reading)(portd_conn_t conn);
  int (*resume_reading)(portd_conn_t conn);
  /* One pointer of per-connection state, owned by the handler (free it in on_close). */
  int (*set_conn_data)(portd_conn_t conn, void* data);
  void* (*conn_data)(portd_conn_t conn);
  /* The peer's address; returns its length, or a negative status. */
  int (*peer_address)(portd_conn_t conn, struct sockaddr_storage* out);

  /* Datagrams (worker thread, during on_datagram): send data to peer from the socket the
   * datagram came in on. Replies leave in one sendmmsg() at the end of the receive batch. */
  int (*reply)(portd_dgram* socket, const struct sockaddr* peer, const void* data, size_t len);

  /* Timers (worker thread). cb(arg) runs once, after delay_ms, on the same worker. A timer
   * does not keep a draining worker alive. Returns 0 when no timer could be had. */
  portd_timer_t (*timer_start)(portd_worker* w, uint64_t delay_ms, portd_timer_cb cb, void* arg);
  /* PORTD_ECLOSED when the timer already fired or was stopped; that is not logged, since a
   * handler racing its own timer is normal. */
  int (*timer_stop)(portd_timer_t timer);

  /* Log a message through the daemon's log, tagged with the handler's name. Any thread. */
  void (*log)(portd_worker* w, int level, const char* message);

  /* Named counters, shown in the daemon's metrics with the listener and handler as labels
   * (portd_handler_events_total{name="..."}). counter() may only be called in create(); the
   * name is letters, digits and '_'; at most 32 per instance. It returns an index for
   * counter_add(), or a negative status. counter_add() costs a few instructions and no lock. */
  int (*counter)(portd_worker* w, const char* name);
  void (*counter_add)(portd_worker* w, int counter, uint64_t delta);
} portd_host_api;

/* One handler. Callbacks a handler does not need may be NULL. */
typedef struct portd_handler_def {
  const char* name;
  const char* description;
  unsigned protocols; /* PORTD_TCP | PORTD_UDP */
  const portd_option_def* options;
  size_t option_count;

  /* Main thread, when the configuration is loaded: check the options and build the
   * immutable, shared configuration of one listener. On rejection return NULL after writing
   * a one-line reason to error (error_len bytes, NUL included); portd reports it as a
   * configuration error of that listener and does not start. A reason that starts with an
   * option's name and ": " ("max_line: must be at least 1") points at that option in the
   * file. NULL configure: the config passed to create() is NULL. */
  void* (*configure)(const portd_host_api* host, const portd_options* options, char* error,
                     size_t error_len);
  void (*release_config)(void* config);

  /* Worker thread: one instance per worker per listener, and its end. create() returning NULL
   * is an error that stops the daemon's start. */
  void* (*create)(const portd_host_api* host, portd_worker* worker, const void* config);
  void (*destroy)(void* instance);

  /* TCP, worker thread. */
  int (*on_open)(void* instance, portd_conn_t conn);
  int (*on_data)(void* instance, portd_conn_t conn, const void* data, size_t len);
  /* The peer shut down its sending side. NULL means: close once queued output is sent. */
  int (*on_peer_closed)(void* instance, portd_conn_t conn);
  /* The connection is gone; conn is stale once this returns. */
  void (*on_close)(void* instance, portd_conn_t conn);

  /* UDP, worker thread. */
  int (*on_datagram)(void* instance, portd_dgram* socket, const struct sockaddr* peer,
                     const void* data, size_t len);
} portd_handler_def;

/* What portd_plugin_entry() returns; static storage, valid while the plugin is loaded. */
typedef struct portd_plugin {
  uint32_t abi_version; /* PORTD_ABI_VERSION the plugin was built against */
  const char* name;
  const char* version;
  const portd_handler_def* handlers;
  size_t handler_count;
} portd_plugin;

#define PORTD_PLUGIN_ENTRY_SYMBOL "portd_plugin_entry"
typedef const portd_plugin* (*portd_plugin_entry_fn)(void);

/* Every plugin defines this one function. */
PORTD_EXPORT const portd_plugin* portd_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* PORTD_HANDLER_H */
