#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/io_poller.h"
#include "net/address.h"
#include "net/faults.h"
#include "net/output_queue.h"

namespace portd::core {
class LoopContext;
}

namespace portd::net {

class Handler;
class TcpListener;

// One accepted TCP connection. Created and destroyed by its TcpListener, on the listener's
// loop; every method must be called on that loop's thread.
//
// Output: write() sends at once and queues only what the kernel did not take. While its
// poller hands out a batch of events, a small write goes into the poller's SendBatch instead
// and leaves with the other replies of the batch in one system call; the result comes back
// (onBatchSettled, onBatchFollow) as a direct send's would, and what the kernel did not take is
// queued. Backpressure: once the listener's write_buffer_limit is queued, reading stops, so that a
// peer that sends but never reads cannot make the daemon buffer without bound; reading resumes once
// the queue is down to half the limit, and the handler hears onWritable().
//
// Input: a handler may keep the tail of what onData() gave it (keepInput); the connection
// holds it and hands it over again, followed by new bytes, so handlers need no buffer of their
// own for a partial message.
//
// I/O: the socket is in its loop's IoPoller (core/io_poller.h), edge-triggered, registered
// once: accept4, epoll_ctl ADD, then only reads, writes and close, as nginx does (output is
// added to the registration only if the kernel ever refuses a write). Edge-triggered means an event
// comes only when something new happens, so the connection remembers whether the socket may still
// hold input (readable_) or is waiting for room to write (write_blocked_).
//
// Closing: close() sends what is queued, then closes. If the peer may still be sending, the
// connection lingers first, as nginx's does: closing a socket that holds unread input resets
// the connection, and a peer still sending (an upload answered early with 413) would see the
// reset instead of the answer it has not read yet. The peer may be sending when the last read
// did not empty the socket (a full read) or input arrived since, or when it has sent a
// kStreamingBytes or more since the handler last wrote (its reads may keep up with it), or when
// the handler says so (closeLingering: a request refused before all of it was read). The
// lingering connection is shut down for writing (the FIN follows the answer), its handler hears
// onClose() and its id goes stale, as for any close; the socket stays registered and what
// arrives is read and dropped, until the peer closes too, nothing arrives for the listener's
// lingering_timeout, or kMaxLingerMs have passed.
//
// Lifetime: the object is freed after the callback that closed it has returned (a deferred
// call of the poller), never in the middle of one, so it is safe to close a connection from
// inside onData().
class Connection : private core::IoWatch {
 public:
  // The longest a closed connection lingers, however much its peer goes on sending (nginx's
  // lingering_time).
  static constexpr uint64_t kMaxLingerMs = 30'000;
  // Input unanswered by any write after which a closed connection lingers (see above).
  static constexpr uint32_t kStreamingBytes = 16 * 1024;

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Queues `data` for the peer. Returns false (and writes nothing) once the connection is
  // closing.
  bool write(std::string_view data);
  // write(), except that what the kernel does not take at once is queued by reference: `data`
  // must stay valid and unchanged for the life of the process (static storage). It counts
  // against the write limit like any output, but costs no memory per connection.
  bool writeReferenced(std::string_view data);
  // Stops reading, sends what is queued, then closes.
  void close();
  // close() for a peer that may still be sending, which only the handler can know (a request
  // refused before its body was read): lingers (see above) whatever the last read found.
  void closeLingering();
  // Closes now, dropping queued output. (What it wrote during this batch of events and the
  // poller's SendBatch holds still leaves first, as it would have had it been sent directly.)
  void abort();
  // After pauseReading() returns, onData() is not called until resumeReading(). Input kept
  // with keepInput() is handed over again soon after resumeReading() (from the loop, not from
  // inside the call).
  void pauseReading();
  void resumeReading();

  // During onData() only: keep the last `n` bytes of its data for the next onData(). False
  // (nothing kept) outside onData(), for more than the data, or for more than the listener's
  // write_buffer_limit in all.
  bool keepInput(size_t n);
  // The handler was refused output (the queue is full): stop reading, since the handler
  // cannot answer more now, and call onWritable() once the queue is down to half the limit.
  void wantWritable();
  size_t writeLimit() const;
  Handler& handler() const;
  // This connection's id in its worker's table (core::HandleTable): what plugins see.
  uint64_t id() const { return id_; }
  // Bytes the peer sent that the kernel holds and portd has not read yet (FIONREAD).
  size_t unreadInput() const;
  size_t queuedBytes() const;
  bool isReading() const { return reading_; }
  // Closing, or closed for its handler (lingering: see above).
  bool isClosing() const { return closing_ || lingering_; }
  Address peerAddress() const;
  // Fills `out` with the peer's address; returns its length, or 0 when unknown.
  int peerName(sockaddr_storage* out) const;
  core::LoopContext& context() const;

  // One pointer for the handler's per-connection state.
  void* handlerData() const { return handler_data_; }
  void setHandlerData(void* data) { handler_data_ = data; }

 private:
  friend class TcpListener;

  Connection(TcpListener& owner, int fd);
  ~Connection() = default;

  // Starts reading and tells the handler; called once the socket is accepted.
  void start();
  // Puts the socket in the poller (once): input, and output if the kernel refused some.
  void watch();
  void updateReading();
  bool writeImpl(std::string_view data, bool referenced);
  // Output waiting in the poller's batch moves to the queue, and the queue is sent now: for a
  // write the batch cannot take after this connection's first.
  bool unbatch(std::string_view data, bool referenced);
  // The batch's result, in its two rounds (core::SendBatch::Receiver).
  static const core::SendBatch::Receiver kBatchReceiver;
  static bool onBatchSettled(void* self, ssize_t result, std::string_view unsent);
  static void onBatchFollow(void* self, ssize_t result);
  // Stops reading once the queue is at the write limit. False once the connection is closing.
  bool checkBackpressure();
  // Writes up to `limit` queued bytes until the kernel takes no more. False once the
  // connection was aborted (a write failed).
  bool flush(size_t limit = SIZE_MAX);
  // The kernel took no more output: EPOLLOUT says when there is room again.
  void waitWritable();
  // After queued output left: finishes a close or a reset that waited for it, and resumes
  // reading (and tells the handler) once the queue is down to half the limit.
  void afterOutput();
  void touch();
  void finish();

  static void onIo(core::IoWatch* w, uint32_t events);
  // Reads while the socket has input and reading is wanted; at most a few full buffers, then
  // the rest waits for the end of this batch (deferred), so one fast sender cannot starve
  // the other connections of its worker. False when the first read found nothing (EAGAIN).
  // Full buffers read from one connection per event before the others of the batch get a
  // turn (readSome, and dropInput while lingering).
  static constexpr int kReadRounds = 4;
  bool readSome();
  // Reads later (deferred): for input that edge-triggered polling will not announce again.
  void scheduleRead();
  static void onScheduledRead(void* id);
  static void onRedeliver(void* id);
  static void destroy(void* self);
  // Calls onData() with `data`, then keeps what the handler asked to keep.
  void deliver(std::string_view data);
  void redeliverKept();

  // [listener.faults] (net/faults.h). The state, made or remade when the listener's faults
  // change; null when it injects none.
  ConnectionFaults* faultState();
  // On `data` just read: truncates it at reset_after_bytes, throttles reading, or holds it
  // back for a delay. False when nothing is to be delivered now.
  bool applyReadFaults(std::string_view& data);
  // Pauses reading for `ms` (a delay, read_rate, accept_delay).
  void pauseForFault(uint64_t ms);
  static void onFaultResume(void* id);
  // write_rate: sends what the bucket allows, or waits for it.
  void pump();
  static void onPace(void* id);
  // Resets the connection (RST: SO_LINGER 0, then close).
  void resetNow();
  // The end of a close() whose output has left: lingers (see above) or closes
  // (connection_linger.cc).
  void closeOrLinger();
  // Reads and drops the peer's input while lingering; closes at its end of the stream.
  void dropInput();
  static void onLingerTimer(void* self);
  static void onLingerRead(void* self);
  void armLingerTimer();
  void countFault(FaultKind kind);

  TcpListener& owner_;
  core::LoopContext& ctx_;  // the listener's, which a closing connection may outlive
  int fd_;
  uint64_t io_token_ = 0;    // its registration in the poller
  uint32_t batch_slot_ = 0;  // its entry in the poller's SendBatch, while it has one
  OutputQueue out_;
  uint64_t last_activity_ms_ = 0;
  uint64_t id_ = 0;
  void* handler_data_ = nullptr;
  std::unique_ptr<ConnectionFaults> faults_;
  // Input the handler kept (keepInput); empty, and without memory, for most connections.
  std::string input_;
  size_t keep_ = 0;
  size_t current_len_ = 0;  // of the data onData() is handling
  bool in_on_data_ = false;
  bool wants_writable_ = false;
  uint32_t peer_slot_ = UINT32_MAX;  // in the listener's PeerCounts, when it counts peers
  bool opened_ = false;              // the handler saw onOpen()
  bool started_ = false;             // start() has run (and registered it, unless closing)
  bool reading_ = false;
  bool readable_ = false;         // the socket may hold input not read yet
  bool peer_hup_ = false;         // the peer shut its side: read to the end
  bool read_scheduled_ = false;   // scheduleRead() is pending
  bool write_blocked_ = false;    // the kernel took no more; waiting for EPOLLOUT
  bool watching_output_ = false;  // EPOLLOUT is in the registration
  bool paused_by_handler_ = false;
  bool paused_by_backpressure_ = false;
  bool paused_by_fault_ = false;
  bool peer_closed_ = false;
  bool close_after_flush_ = false;
  bool lingering_ = false;
  bool linger_asked_ = false;         // closeLingering(): linger whatever the reads found
  bool linger_read_pending_ = false;  // onLingerRead() is deferred
  bool closing_ = false;
  // Bytes read since the handler last wrote (at most kStreamingBytes), and whether the last
  // read found kStreamingBytes or more unanswered: a peer that streams may still be sending.
  uint32_t unanswered_ = 0;
  bool streaming_ = false;
  uint64_t linger_end_ms_ = 0;  // lingering stops here whatever the peer does
  uint64_t linger_timer_ = 0;   // its pending timer in the loop's TimerPool

  // The listener's list of open connections (for drain and shutdown).
  Connection* prev_ = nullptr;
  Connection* next_ = nullptr;
  // The listener's list by last activity, most recent first, for the idle timeout (one timer
  // per listener rather than one per connection); linked only when the listener has one.
  Connection* newer_ = nullptr;
  Connection* older_ = nullptr;
};

}  // namespace portd::net
