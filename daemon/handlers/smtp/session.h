#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "handlers/smtp/dot_reader.h"

namespace portd::handlers::smtp {

// What a session needs from the listener's configuration.
struct SessionConfig {
  std::string hostname = "portd.localhost";
  size_t max_line = 512;  // a command line, CRLF included
  uint64_t max_message_size = 10 << 20;
  uint32_t max_recipients = 100;
  bool chunking = false;  // advertise CHUNKING and accept BDAT

  // Rendered by prepare() from the fields above.
  std::string greeting;
  std::string ehlo;
  std::string helo;
  std::string closing;  // 421, then the connection closes
  void prepare();
};

// The points of a session where a fault may be injected (faults.h).
enum class Stage { kGreeting, kEhlo, kMail, kRcpt, kData, kDataEnd, kQuit, kCount };

// What to do instead of (or besides) the normal reply at a stage.
struct Fault {
  enum class Kind { kNone, kReply, kDisconnect, kClose421 };
  Kind kind = Kind::kNone;
  int code = 0;           // kReply: the reply code
  uint64_t delay_ms = 0;  // the reply that goes out (normal or not) waits this long
};

// Counted events; the handler maps each to a Worker counter.
enum class Event {
  kSession,
  kCommand,
  kMessage,  // accepted (250 after the end of the data)
  kMessageBytes,
  kRecipient,
  kReply4xx,
  kReply5xx,
  kLineTooLong,
  kTooLarge,
  kTooManyRecipients,
  kDeliveryFailed,
  kFaultReply,
  kFaultDelay,
  kFaultDisconnect,
  kFault421,
  kCount
};

// What a session calls out to: fault decisions, where a message goes, counters.
class SessionHooks {
 public:
  virtual ~SessionHooks() = default;
  virtual Fault fault(Stage stage) = 0;
  // A message starts (DATA accepted, or the first BDAT chunk). False: it cannot be stored.
  virtual bool beginMessage() = 0;
  virtual void messageBody(std::string_view bytes) = 0;
  // The message ends: keep it (deliver) or throw it away. False: keeping it failed.
  virtual bool endMessage(bool deliver) = 0;
  virtual void count(Event event, uint64_t n) = 0;
};

// What feed() and open() ask of the connection once they return.
struct FeedResult {
  enum class Action {
    kMore,        // everything usable was used; keep in[consumed:] (a partial line)
    kFull,        // the output reached kOutputBound: write it, then feed in[consumed:] again
    kDelay,       // write out[:delayed_from] now, and out[delayed_from:] after delay_ms
    kClose,       // write out, then close (QUIT, 421)
    kDisconnect,  // write out, then close without answering the last command
  };
  size_t consumed = 0;
  Action action = Action::kMore;
  uint64_t delay_ms = 0;
  size_t delayed_from = 0;
  bool close_after = false;  // kDelay: close once the delayed reply is out
};

// The server side of one SMTP connection (RFC 5321, with RFC 1870 SIZE, 6152 8BITMIME, 2920
// PIPELINING, 2034 ENHANCEDSTATUSCODES, 3030 CHUNKING and 6531 SMTPUTF8 as parameters), as
// pure logic: bytes in, reply bytes out, hooks for the rest. It never keeps input: a partial
// command line is left for the caller to keep (at most max_line bytes), an over-long one is
// answered and skipped up to its LF, and message data is streamed to the hooks as it comes.
class Session {
 public:
  // Output stops growing, within one feed, once it reaches this many bytes.
  static constexpr size_t kOutputBound = 16 * 1024;

  Session(const SessionConfig& config, SessionHooks& hooks) : config_(config), hooks_(hooks) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The greeting (or an injected refusal of it).
  FeedResult open(std::string& out);
  // Answers what `in` completes, appending replies to `out`.
  FeedResult feed(std::string_view in, std::string& out);
  // The connection is gone: a message being received is thrown away.
  void close();

  bool closed() const { return state_ == State::kClosed; }
  // Between transactions, waiting for a command: a good moment to close on a drain.
  bool idle() const {
    return state_ == State::kConnected || state_ == State::kReady || state_ == State::kRejected;
  }

 private:
  enum class State {
    kConnected,  // greeted, no EHLO/HELO yet
    kReady,      // no transaction
    kMail,       // MAIL accepted
    kRcpt,       // one or more RCPT accepted (and maybe BDAT chunks)
    kData,       // reading a DATA body
    kBdat,       // reading a BDAT chunk
    kRejected,   // the greeting refused service: only QUIT is served
    kClosed,     // QUIT or 421: input is ignored
  };
  // How a command ended, for the loop in feed().
  struct Step {
    FeedResult::Action action = FeedResult::Action::kMore;
    uint64_t delay_ms = 0;
    size_t delayed_from = 0;
    bool close_after = false;
  };

  Step command(std::string_view line, std::string& out);
  Step mail(std::string_view arg, std::string& out);
  Step rcpt(std::string_view arg, std::string& out);
  Step data(std::string_view arg, std::string& out);
  Step bdat(std::string_view arg, std::string& out);
  // The body or the last chunk is complete: deliver, refuse or fault it.
  Step endOfMessage(std::string& out);
  // A chunk's bytes are all read.
  Step endOfChunk(std::string& out);

  // Asks the hooks for the stage's fault. True: the command goes on and writes its normal
  // reply (which a delay may hold back). False: the fault answered or ended it, as *step says.
  bool proceed(Stage stage, std::string& out, Step* step);
  // The FeedResult for a command that ended with `step` after `consumed` bytes.
  FeedResult finish(size_t consumed, const Step& step);
  void reply(std::string& out, std::string_view text);
  void body(std::string_view bytes);
  void resetTransaction();

  const SessionConfig& config_;
  SessionHooks& hooks_;
  State state_ = State::kConnected;
  State chunk_return_ = State::kReady;  // where a refused BDAT chunk leaves the session
  bool helo_seen_ = false;
  bool discarding_ = false;  // skipping the rest of an over-long line
  bool in_message_ = false;  // beginMessage() was called and endMessage() not yet
  bool bdat_used_ = false;   // this transaction has BDAT chunks: DATA is refused
  bool too_large_ = false;
  bool chunk_last_ = false;
  bool chunk_refused_ = false;  // a BDAT chunk read only to be discarded
  std::string_view chunk_refusal_;
  uint32_t recipients_ = 0;
  uint64_t size_ = 0;  // message bytes so far
  uint64_t chunk_left_ = 0;
  uint64_t chunk_size_ = 0;
  uint64_t delay_ms_ = 0;  // a fault delays the reply that starts at out[delay_mark_]
  size_t delay_mark_ = 0;
  DotReader dot_;
};

}  // namespace portd::handlers::smtp
