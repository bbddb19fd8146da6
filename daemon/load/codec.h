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
  // The oldest outstanding request is answered; `status` is the HTTP status (0 elsewhere).
  virtual void onResponse(int status) = 0;
};

// The protocol of one stream connection: writes requests, reads answers. One per connection,
// reset() when it reconnects; no allocation per request once warm.
class Codec {
 public:
  enum class Read { kOk, kMalformed, kMismatch };

  virtual ~Codec() = default;
  // Appends the next request.
  virtual void request(std::string& out) = 0;
  // Reads what arrived; tells `sink` of each complete answer.
  virtual Read read(std::string_view in, ResponseSink& sink) = 0;
  // The target said it closes after the answers so far (HTTP "Connection: close").
  virtual bool peerCloses() const { return false; }
  // A new connection: nothing outstanding.
  virtual void reset() = 0;
};

// The codec of `options.target`'s scheme (stream schemes only).
std::unique_ptr<Codec> makeCodec(const LoadOptions& options);

}  // namespace portd::load
