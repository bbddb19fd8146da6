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
 * Ids. Connections, datagram sockets and timers are named by 64-bit ids that carry a
 * generation: once a connection is closed (after on_close returns), a datagram socket is
 * replaced (a reload) or a timer has fired or been stopped, its id is stale forever, and a host
 * function given a stale id does nothing, logs the misuse naming the handler, and returns
 * PORTD_ECLOSED. An id is also checked against the caller: it must belong to the instance
 * whose callback or timer is running on the calling worker thread; another instance's id, or
 * a call from a thread that is not a worker, is refused the same way (PORTD_EWRONGTHREAD from
 * a thread that is not a worker). Using a stale or foreign id is a bug in the plugin, but
 * never a crash of the daemon.
 *
 * Backpressure. write() accepts data while less than the listener's write_buffer_limit is
 * queued for the peer; once that much is queued it refuses with PORTD_EAGAIN and queues
 * nothing, so that one connection's output is bounded by the limit plus one write. portd also
 * stops reading from a connection whose queue is over the limit, so on_data is not called for
 * it meanwhile. When the queue falls to half the limit, on_writable is called (for every
 * connection that was refused a write or stopped for backpressure), then reading resumes. A
 * handler that produces more than the limit in one on_data keeps what it has not answered yet
 * (keep_input below, or its own state) and goes on in on_writable.
 *
 * Pausing. After pause_reading() returns, on_data is not called for the connection until
 * resume_reading(), not even with bytes portd had already read.
 *
 * Input. A handler that needs more bytes than one on_data brought (a partial message) calls
 * keep_input(conn, n) in on_data: the last n bytes of this call's data are kept by portd and
 * come again, followed by whatever arrives next, in the next on_data. Kept input is also given
 * again (with nothing new) after on_writable and after resume_reading, so that pipelined
 * requests already read are not stranded. At most write_buffer_limit bytes are kept.
 *
 * Drain. On SIGTERM portd stops accepting and calls on_drain for each open connection: a
 * handler closes the connection when that is natural (between requests). With no on_drain,
 * the connection is left to its peer until server.shutdown_timeout.
 *
 * Lifetime across reloads. A listener whose settings, handler and options are unchanged by a
 * reload keeps its instances (and their state). Otherwise the new configuration gets a new
 * configure() and new instances, while connections that were open keep the old instance (and
 * its config) until they end; then destroy and release_config run.
 *
 * Compatibility (ABI version 1). Every structure a plugin and portd exchange starts with its
 * size (or, for portd_plugin, a version and a size), and later releases of portd with ABI
 * version 1 only ever add fields at the end of these structures and functions at the end of
 * portd_host_api, never change the meaning of what is here. So:
 *  - a plugin built against this header keeps loading and behaving the same in every later
 *    portd with ABI version 1: fields it does not know of are treated as absent (NULL);
 *  - a plugin built against a later header loads into an older portd only if the fields that
 *    portd does not know of are all zero (callbacks it could not call); otherwise portd refuses
 *    it with a message saying that it needs a newer portd;
 *  - a plugin that calls a host function added after ABI 1.0 checks PORTD_HOST_HAS() first.
 * Additions so far: 1.1 PORTD_OPT_PATH; 1.2 the series_* functions; 1.3 close_lingering
 * (PORTD_ABI_MINOR).
 * New status codes may appear: treat any negative status as a failure (see strerror).
 * PORTD_ABI_VERSION changes only for an incompatible change, and portd refuses plugins built
 * for another version.
 *
 * Errors. A callback returns 0 on success. A negative return means the handler failed on this
 * connection: portd logs it and aborts the connection. Failures and misuse are logged at most
 * once a second per handler instance (that is, per worker), with a count of those held back.
 *
 * Re-entrancy. close() on a connection with nothing queued, abort(), and a write() that finds
 * the connection broken close it at once: on_close runs for it before that host function
 * returns. Do not touch per-connection state after calling them unless on_close leaves it
 * valid; is_open() tells whether the connection survived. When an instance is destroyed
 * (destroy), its pending timers are cancelled first.
 *
 * Shared state. Instances of one listener on different workers share nothing but the
 * immutable config that configure() returned: each worker has its own instance, called on its
 * own thread. A handler that needs state shared between workers keeps it in the config behind
 * its own synchronisation (atomics, a mutex held briefly), knowing it then costs every worker;
 * the usual way is to keep state per instance and add it up outside (counters do this).
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
/* The additions this header has (1.1: PORTD_OPT_PATH; 1.2: labelled series; 1.3:
 * close_lingering), for a plugin that is compiled against more than one header
 * (#if defined(PORTD_ABI_MINOR) && ...). At run time ask PORTD_HOST_HAS() instead: the portd
 * that loads a plugin may be older than its header. */
#define PORTD_ABI_MINOR 3u

#if defined(__GNUC__)
#define PORTD_EXPORT __attribute__((visibility("default")))
#else
#define PORTD_EXPORT
#endif

/* Status codes of host functions. */
#define PORTD_OK 0
#define PORTD_ECLOSED (-1)      /* the connection or timer id is stale or closing */
#define PORTD_EINVAL (-2)       /* a bad argument (unknown option, wrong type, NULL) */
#define PORTD_ENOMEM (-3)       /* a bounded resource is exhausted */
#define PORTD_EWRONGTHREAD (-4) /* called from a thread that is not the instance's worker */
#define PORTD_EAGAIN (-5)       /* write(): the output queue is full; nothing was queued */

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
  PORTD_OPT_INT_LIST = 6, /* written [1, 2, 3] */
  /* Added in ABI 1.1: a file name, read with opt_string. A relative path is resolved against
   * the directory of the configuration file, and a listener that names a file gets a new
   * configure() on every reload, so that the file is read again. An older portd refuses a
   * handler with this type when it loads ("unknown type 7"). */
  PORTD_OPT_PATH = 7
};

/* One entry of a handler's option schema (an array; its element size is in
 * portd_handler_def.option_size). The default is a TOML value written as it would be
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
typedef uint64_t portd_dgram_t;             /* a datagram socket; 0 is never a valid id */
typedef uint64_t portd_series_t; /* the series of one label value (ABI 1.2); 0 is never valid */

/* Limits of labelled series (ABI 1.2; see series_declare below). */
#define PORTD_SERIES_MAX_SETS 4        /* series_declare() calls per instance */
#define PORTD_SERIES_MAX_COLUMNS 32    /* counters plus gauges of one set */
#define PORTD_SERIES_MAX_VALUES 65536  /* live label values of one set */
#define PORTD_SERIES_MAX_VALUE_LEN 128 /* bytes of one label value */

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
   * status: PORTD_EAGAIN (nothing queued) while write_buffer_limit bytes or more are queued;
   * on_writable follows once the queue is down to half (see Backpressure above). */
  int64_t (*write)(portd_conn_t conn, const void* data, size_t len);
  /* Stop reading, send what is queued, then close. */
  int (*close)(portd_conn_t conn);
  /* Close now, dropping queued output. (Output written during the current batch of events,
   * which portd sends together when the batch ends, still leaves first, as it would have
   * had each write been sent at once.) */
  int (*abort)(portd_conn_t conn);
  int (*pause_reading)(portd_conn_t conn);
  int (*resume_reading)(portd_conn_t conn);
  /* One pointer of per-connection state, owned by the handler (free it in on_close). */
  int (*set_conn_data)(portd_conn_t conn, void* data);
  void* (*conn_data)(portd_conn_t conn);
  /* The peer's address; returns its length, or a negative status. */
  int (*peer_address)(portd_conn_t conn, struct sockaddr_storage* out);

  /* Datagrams (worker thread): send data to peer from the socket a datagram came in on.
   * Replies made during on_datagram leave in one sendmmsg() at the end of the receive batch. */
  int (*reply)(portd_dgram_t socket, const struct sockaddr* peer, const void* data, size_t len);

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

  /* Bytes queued for the peer, and the listener's write_buffer_limit; or a negative status. */
  int64_t (*queued_bytes)(portd_conn_t conn);
  int64_t (*write_limit)(portd_conn_t conn);
  /* During on_data only: keep the last len bytes of this call's data for the next on_data
   * (see Input above). PORTD_ENOMEM when more than write_buffer_limit would be kept; nothing
   * is kept then, and the handler should answer with an error or close. */
  int (*keep_input)(portd_conn_t conn, size_t len);
  /* 1 while the connection is open (not closing), 0 once it is closed or the id is stale.
   * Never logs: this is how a handler asks after a write or close that may have run on_close
   * re-entrantly. */
  int (*is_open)(portd_conn_t conn);
  /* A short description of a PORTD_* status, e.g. "the connection is closed". */
  const char* (*strerror)(int status);

  /* Added in ABI 1.2: labelled series, for figures kept per peer (or per anything whose values
   * come and go) rather than in total. Check PORTD_HOST_HAS(host, series_declare) first.
   *
   * A set is declared in create() only: one label name (`label`: a lowercase letter, then
   * lowercase letters, digits and '_', at most 32 bytes; not listener, handler, protocol or
   * name), the counters and gauges each label value gets (names as for counter(); at most
   * PORTD_SERIES_MAX_COLUMNS in all), and how many label values may be live at once on this
   * worker (1 to PORTD_SERIES_MAX_VALUES). portd allocates the whole set then; it returns the
   * set's index (at most PORTD_SERIES_MAX_SETS per instance), or PORTD_EINVAL.
   *
   * series_open() (worker thread) starts the series of one label value, its counters and
   * gauges at 0, and sets *out to their id: PORTD_ENOMEM when max_values are live, PORTD_EINVAL
   * for a value that is empty, longer than PORTD_SERIES_MAX_VALUE_LEN bytes or not UTF-8. It
   * does not allocate. series_close() removes them from the metrics; the id is stale
   * afterwards (PORTD_ECLOSED). Two live ids with one label value (on one worker or several)
   * show as one series: counters summed, the largest gauge.
   *
   * series_add() and series_set() cost a few instructions, no lock and no allocation; like
   * counter_add(), they do nothing with a stale id or an index out of range, and run on the
   * instance's worker thread only. series_set() ignores a value that is not finite.
   *
   * portd shows counter C of label value V of set label L as
   *   portd_handler_L_events_total{listener,handler,protocol,name="C",L="V"}
   * and gauge G as portd_handler_L_value{...,name="G",L="V"}, and /stats as
   * listeners[].handler_series.L.V.C. */
  int (*series_declare)(portd_worker* w, const char* label, uint32_t max_values,
                        const char* const* counters, size_t counter_count,
                        const char* const* gauges, size_t gauge_count);
  int (*series_open)(portd_worker* w, int set, const char* value, size_t len, portd_series_t* out);
  void (*series_add)(portd_worker* w, portd_series_t series, int counter, uint64_t delta);
  void (*series_set)(portd_worker* w, portd_series_t series, int gauge, double value);
  int (*series_close)(portd_worker* w, portd_series_t series);

  /* Added in ABI 1.3; check PORTD_HOST_HAS(host, close_lingering) first (close() is the
   * fallback). close() for a peer that may still be sending: a request refused before all of
   * it was read (its body, or the rest of a head too large). Closing a socket that holds unread
   * input, or that input arrives at, resets the connection, and a peer still sending then sees
   * the reset instead of the answer it has not read yet. So after the output has left, portd
   * shuts the connection down for writing and reads and drops what the peer sends, until the
   * peer closes its side, the listener's lingering_timeout passes with nothing arriving, or
   * 30 s have passed in all (nginx's lingering close). close() does this by itself only when
   * portd saw input left unread, or 16 KiB or more of input that no write answered. For the
   * handler it is a close like any other: on_close, then the id is stale. */
  int (*close_lingering)(portd_conn_t conn);
} portd_host_api;

/* Whether the host offers function `fn` (one added to portd_host_api after ABI 1.0). */
#define PORTD_HOST_HAS(host, fn) \
  ((host)->size >= offsetof(portd_host_api, fn) + sizeof((host)->fn) && (host)->fn != NULL)

/* One handler. Callbacks a handler does not need may be NULL. Start its initialiser with
 * PORTD_HANDLER_INIT, which fills in the two sizes. */
typedef struct portd_handler_def {
  uint32_t size;        /* sizeof(portd_handler_def) the plugin was built with */
  uint32_t option_size; /* sizeof(portd_option_def) the plugin was built with */
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
  int (*on_datagram)(void* instance, portd_dgram_t socket, const struct sockaddr* peer,
                     const void* data, size_t len);

  /* TCP, worker thread. The output queue fell to half of write_buffer_limit after a write was
   * refused with PORTD_EAGAIN or reading stopped for backpressure: write more now. */
  int (*on_writable)(void* instance, portd_conn_t conn);
  /* TCP, worker thread. The daemon is draining (SIGTERM): close the connection when that is
   * natural, e.g. now if it is between requests. NULL: the connection is left to its peer. */
  int (*on_drain)(void* instance, portd_conn_t conn);
} portd_handler_def;

#define PORTD_HANDLER_INIT \
  .size = sizeof(portd_handler_def), .option_size = sizeof(portd_option_def)

/* What portd_plugin_entry() returns; static storage, valid while the plugin is loaded. Start
 * its initialiser with PORTD_PLUGIN_INIT. */
typedef struct portd_plugin {
  uint32_t abi_version;  /* PORTD_ABI_VERSION the plugin was built against */
  uint32_t size;         /* sizeof(portd_plugin) the plugin was built with */
  uint32_t handler_size; /* sizeof(portd_handler_def): the stride of `handlers` */
  const char* name;
  const char* version;
  const portd_handler_def* handlers;
  size_t handler_count;
} portd_plugin;

#define PORTD_PLUGIN_INIT                                         \
  .abi_version = PORTD_ABI_VERSION, .size = sizeof(portd_plugin), \
  .handler_size = sizeof(portd_handler_def)

#define PORTD_PLUGIN_ENTRY_SYMBOL "portd_plugin_entry"
typedef const portd_plugin* (*portd_plugin_entry_fn)(void);

/* Every plugin defines this one function. */
PORTD_EXPORT const portd_plugin* portd_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* PORTD_HANDLER_H */
