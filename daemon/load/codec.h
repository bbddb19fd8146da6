#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace portd::load {

struct LoadOptions;

// Told by a codec as it reads a connection's answers, which arrive in request order.
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // The first byte of the oldest outstanding request's answer has arrived.
  virtual void onFirstByte() = 0;
  // The oldest outstanding request is answered; `status` is the protocol's: the HTTP status,
  // the SMTP reply code, kRespReply or kRespErrorReply (resp_codec.h); 0 for tcp.
  virtual void onResponse(int status) = 0;
};

// The protocol of one stream connection: writes requests, reads answers. One per connection,
// reset() when it reconnects; no allocation per request once warm.
class Codec {
 public:
  // kBadFraming: the framing itself is broken (stream+tcp: a length out of range), so that
  // nothing after it can be read.
  enum class Read { kOk, kMalformed, kMismatch, kBadFraming };

  virtual ~Codec() = default;
  // Appends the next request.
  virtual void request(std::string& out) = 0;
  // Reads what arrived; tells `sink` of each complete answer.
  virtual Read read(std::string_view in, ResponseSink& sink) = 0;
  // The target closed the connection: an answer that ends there is complete now.
  virtual void finish(ResponseSink& sink) { (void)sink; }
  // The target said it closes after the answers so far (HTTP "Connection: close").
  virtual bool peerCloses() const { return false; }
  // Bytes the codec sends on its own, not as a request: a handshake once connected (SMTP's
  // EHLO after the greeting), the next step of a request once the server allows it (a
  // message's body after 354). The worker asks after connecting and after every read.
  virtual void takeOutput(std::string& out) { (void)out; }
  // Whether the worker may close now, when it means to (--churn, peerCloses()) and nothing is
  // outstanding: false while the codec waits for the answer to something it sent on its own
  // (SMTP's 221 to the QUIT it sends after the last message), which closing would cut short.
  virtual bool canClose() const { return true; }
  // A new connection: nothing outstanding.
  virtual void reset() = 0;
};

// The codec of `options.target`'s scheme (stream schemes only).
std::unique_ptr<Codec> makeCodec(const LoadOptions& options);

// The protocol of a datagram scheme: one request per datagram, one answer per request,
// matched by a sequence number the answer carries (in full, or its low bits).
class DatagramCodec {
 public:
  virtual ~DatagramCodec() = default;
  // Writes request `seq` into `buf` (at most `capacity` bytes); returns its length.
  virtual size_t request(char* buf, size_t capacity, uint64_t seq, uint64_t intended_ns,
                         uint64_t sent_ns) = 0;
  // Reads an answer: false if it is not one. *seq gets its sequence number (its low
  // seqBits() bits), *status the protocol's status (DNS: the RCODE, and a flag for
  // a truncated answer: dns_codec.h; 0 elsewhere).
  virtual bool answer(std::string_view in, uint64_t* seq, int* status) = 0;
  virtual unsigned seqBits() const { return 64; }
  // Whether each socket numbers its requests from 0 (the target accounts each source address
  // as a stream of its own: stream://) rather than the thread numbering them all. The worker
  // maps a socket's numbers back to its own.
  virtual bool perSocketSeq() const { return false; }
};

// The datagram codec of `options.target`'s scheme (datagram schemes only).
std::unique_ptr<DatagramCodec> makeDatagramCodec(const LoadOptions& options);

}  // namespace portd::load
