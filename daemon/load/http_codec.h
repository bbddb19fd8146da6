#pragma once

#include <llhttp.h>

#include <string>

#include "load/codec.h"

namespace portd::load {

// HTTP/1.1 with keep-alive: the request is rendered once (method, path, Host, the headers and
// body asked for), and answers are read with llhttp, which frames them (Content-Length,
// chunked, to-close) and counts their status.
class HttpCodec final : public Codec {
 public:
  explicit HttpCodec(const LoadOptions& options);

  void request(std::string& out) override { out += request_; }
  Read read(std::string_view in, ResponseSink& sink) override;
  void finish(ResponseSink& sink) override;
  bool peerCloses() const override { return peer_closes_; }
  void reset() override;

 private:
  static int onMessageBegin(llhttp_t* p);
  static int onHeadersComplete(llhttp_t* p);
  static int onMessageComplete(llhttp_t* p);

  std::string request_;
  bool head_ = false;  // HEAD: answers have no body
  llhttp_settings_t settings_;
  llhttp_t parser_;
  ResponseSink* sink_ = nullptr;
  bool peer_closes_ = false;
};

}  // namespace portd::load
