#pragma once

#include <uv.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "load/codec.h"
#include "load/datagram.h"
#include "load/options.h"
#include "load/results.h"
#include "load/stream_receiver.h"
#include "load/stream_wire.h"

namespace portd::load {

// What the workers hand to the main thread while a run lasts, for the progress line and the
// interval log. Each worker takes the mutex a few times a second, never per request.
struct SharedProgress {
  std::atomic<bool> stop{false};
  std::atomic<int> finished{0};  // workers whose loop has ended
  std::mutex mutex;
  Histogram interval;  // corrected latencies since the main thread last took them
  uint64_t interval_completed = 0;
  uint64_t interval_errors = 0;
};

// One generator thread: its own libuv loop, its share of the connections and of the requests
// (the open model's request k belongs to thread k mod threads, so any rate works with any
// number of threads), and its own histograms, merged by the caller once it has ended. Nothing
// is shared with the other threads but SharedProgress.
//
// Per request there is no allocation and no lock: requests are rendered into each connection's
// reused output buffer, outstanding ones sit in a fixed ring per connection (TCP) or a fixed
// window (UDP), and latencies go to fixed-size histograms.
class LoadWorker {
 public:
  // `schedule`: the open model's (null for the closed model). `start_ns`: uv_hrtime() of the
  // run's start, common to every thread.
  LoadWorker(const LoadOptions& options, const Schedule* schedule, int index, uint64_t start_ns,
             SharedProgress& shared, uv_async_t* done);
  ~LoadWorker();
  LoadWorker(const LoadWorker&) = delete;
  LoadWorker& operator=(const LoadWorker&) = delete;

  void start();
  void join();
  // From any thread: look at SharedProgress::stop now.
  void wake();

  // After join().
  const Counters& counters() const { return counters_; }
  const Histograms& histograms() const { return histograms_; }
  double jitterUs() const { return std::max(tracker_.jitterNs(), rx_jitter_ns_) / 1000.0; }
  uint64_t endNs() const { return end_ns_; }

 private:
  struct InFlight {
    uint64_t intended_ns;
    uint64_t sent_ns;
  };
  // stream --subscribe: a connection's received stream (worker_receive.cc).
  struct Rx {
    ReceiveTracker tracker;
    StreamFrameReader reader;  // TCP
    bool subscribed = false;   // UDP: a subscribe has left, an unsubscribe is owed at the end
    bool streaming = false;    // a message of the stream has arrived
    uint64_t cookie = 0;       // UDP: the source's challenge, sent back in the subscribe
    uint64_t subscribe_ns = 0;
  };
  struct Conn final : ResponseSink {
    LoadWorker* worker = nullptr;
    enum class State { kDown, kConnecting, kUp, kClosing } state = State::kDown;
    uv_tcp_t tcp;
    uv_udp_t udp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    std::unique_ptr<Codec> codec;
    std::string out;      // requests not yet handed to libuv
    std::string writing;  // handed to uv_write(), until its callback
    bool write_pending = false;
    bool dirty = false;
    std::vector<InFlight> ring;  // outstanding requests, oldest at `head`
    size_t head = 0;
    size_t count = 0;
    uint64_t connect_start_ns = 0;
    uint64_t retry_at_ns = 0;
    uint64_t first_byte_ns = 0;
    uint64_t issued = 0;  // on this connection, for --churn
    // When the worker meant to close it but its codec still waited for an answer of its own
    // (Codec::canClose()); 0: not closing. Closed anyway after --timeout.
    uint64_t closing_since_ns = 0;
    bool failed_connect = false;
    // Datagram codecs that number per socket (DatagramCodec::perSocketSeq()): the socket's
    // next number, and the thread's sequence number of each of the last seq_map.size() sent.
    uint64_t next_local = 0;
    std::vector<uint64_t> seq_map;
    // Datagrams: the highest sequence number (the thread's) answered on this socket, for
    // counting its reordering.
    uint64_t highest_answered = 0;
    bool answered_any = false;
    std::unique_ptr<Rx> rx;  // stream --subscribe

    void onFirstByte() override;
    void onResponse(int status) override;
  };

  void run();
  bool udp() const { return dgram_codec_ != nullptr; }
  uint64_t now() const { return uv_hrtime(); }
  // Histograms count whole microseconds, rounded to the nearest.
  static uint64_t toMicros(uint64_t ns) { return (ns + 500) / 1000; }

  // Opens `c` anew (worker.cc) by the transport's own half (worker_tcp.cc, worker_udp.cc).
  void connect(Conn& c);
  void connectTcp(Conn& c, const sockaddr* addr);
  void connectUdp(Conn& c, const sockaddr* addr);
  void closeConn(Conn& c, bool backoff);
  // Counts `c`'s outstanding requests as failed with `kind`, and forgets them.
  void failOutstanding(Conn& c, ErrorKind kind);
  // The target will not answer `c`'s outstanding requests (it closes): they are sent again.
  void requeue(Conn& c);
  // Whether `c` can take one more request now.
  bool canTake(const Conn& c) const;
  // Renders one request into a connection that can take it; false when none can.
  bool sendOne(uint64_t intended_ns, uint64_t now_ns);
  void sendOn(Conn& c, uint64_t intended_ns, uint64_t now_ns);
  // False when the socket would not take it (the closed model then waits for room).
  bool sendDatagram(Conn& c, uint64_t intended_ns, uint64_t now_ns);
  // Open model: sends what is due; closed model: fills every connection to the pipeline depth.
  void issue();
  void fill(Conn& c);
  void fillTcp(Conn& c);
  void fillUdp(Conn& c);
  void flushAll();
  void flush(Conn& c);
  void record(uint64_t intended_ns, uint64_t sent_ns, uint64_t first_byte_ns, uint64_t now_ns);
  void recordError(ErrorKind kind, uint64_t n = 1);
  // An answer's status: HTTP status classes, RESP error replies, SMTP reply classes (0: none);
  // DNS RCODEs (0: NOERROR) and truncation.
  void countStatus(int status);
  void armTick(uint64_t due_ns);
  void sweep();
  // Hands the interval's figures to the main thread at each whole second of the run, so that
  // its per-second timeline and interval log cut where the seconds do.
  void publishIfDue(uint64_t now_ns);
  void publish();
  void maybeFinish();
  void finish();
  // The run still has requests for this thread (until its end, quota or schedule).
  bool moreToSend(uint64_t t) const;
  bool moreToSend() const { return moreToSend(now()); }
  // moreToSend(), and the common start has come.
  bool issuing(uint64_t t) const;
  bool issuing() const { return issuing(now()); }

  // stream --subscribe (worker_receive.cc): a connection receives a source's stream instead
  // of sending requests.
  bool receiving() const { return options_.subscribe; }
  void subscribe(Conn& c, uint64_t now_ns);
  void sendControl(Conn& c, uint8_t flags, uint64_t seq, uint64_t now_ns);
  void onStreamDatagram(Conn& c, std::string_view data, uint64_t now_ns);
  // False when the connection was closed (its framing broke).
  bool onStreamBytes(Conn& c, std::string_view data, uint64_t now_ns);
  void onStreamMessage(Conn& c, const StreamHeader& h, uint64_t now_ns);
  // The end of a connection's stream: what never arrived is lost.
  void endStream(Conn& c);
  // Subscribes again where no answer came; the sweep calls it.
  void resubscribe(uint64_t now_ns);
  // A connection's stream ended: TCP the source closed, UDP the run did.
  void onStreamClosed(Conn& c);

  static void onConnect(uv_connect_t* req, int status);
  static void onAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void onUdpRead(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* from,
                        unsigned flags);
  static void onWrite(uv_write_t* req, int status);
  static void onClosed(uv_handle_t* h);

  const LoadOptions& options_;
  const Schedule* schedule_;
  const int index_;
  const int threads_;
  const uint64_t start_ns_;
  SharedProgress& shared_;
  uv_async_t* done_;
  std::thread thread_;

  uv_loop_t loop_;
  // The open model's clock: a timerfd armed for the next request's due time, to the
  // nanosecond (libuv's timers count whole milliseconds, which would make every request up to
  // a millisecond late), watched by the loop like any descriptor.
  int tick_fd_ = -1;
  uv_poll_t tick_;
  uv_timer_t sweep_timer_;
  uv_async_t wake_;
  // wake() may come from the main thread at any time (a signal): before the handle exists, or
  // after finish() closed it. The flag says whether it is open, under the mutex.
  std::mutex wake_mutex_;
  bool wake_open_ = false;
  std::vector<std::unique_ptr<Conn>> conns_;
  size_t rr_ = 0;
  uint64_t read_ns_ = 0;  // when the read being handled was taken (its answers' arrival)
  std::vector<char> read_buf_;
  std::unique_ptr<DatagramCodec> dgram_codec_;  // datagram schemes
  std::string datagram_;

  uint64_t timeout_ns_;
  uint64_t next_publish_ns_;  // the next whole second of the run
  uint64_t end_ns_ = 0;       // open: the schedule's end; closed: start + duration
  uint64_t next_k_ = 0;       // open: the next request of this thread's share to send
  uint64_t total_ = 0;        // open: requests in the schedule
  uint64_t quota_ = 0;        // closed, with --requests: requests this thread may send
  bool has_quota_ = false;
  uint64_t next_seq_ = 0;  // udp
  // Open model: intended times of requests to send again (see requeue()), oldest first.
  std::vector<uint64_t> retry_;
  size_t retry_head_ = 0;
  bool finishing_ = false;
  int open_handles_ = 0;

  Counters counters_;
  Histograms histograms_;
  Histogram interval_;
  uint64_t interval_completed_ = 0;
  uint64_t interval_errors_ = 0;
  DatagramTracker tracker_;
  // stream --subscribe: one-way delays are recorded only when the target is this host (one
  // clock for both ends); the largest jitter of the streams that ended.
  bool loopback_ = false;
  double rx_jitter_ns_ = 0;
};

}  // namespace portd::load
