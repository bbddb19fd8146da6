#include "load/http_codec.h"

#include "load/options.h"

namespace portd::load {

HttpCodec::HttpCodec(const LoadOptions& o) {
  head_ = o.method == "HEAD";
  request_ = o.method + " " + o.target.path + " HTTP/1.1\r\n";
  bool has_host = false;
  for (const std::string& h : o.headers) {
    if (h.size() >= 5 && (h[0] == 'H' || h[0] == 'h') && h.compare(1, 4, "ost:") == 0) {
      has_host = true;
    }
  }
  if (!has_host) {
    const bool v6 = o.target.host.find(':') != std::string::npos;
    request_ += "Host: " + (v6 ? "[" + o.target.host + "]" : o.target.host);
    if (o.target.port != 80) {
      request_ += ":" + std::to_string(o.target.port);
    }
    request_ += "\r\n";
  }
  for (const std::string& h : o.headers) {
    request_ += h + "\r\n";
  }
  if (!o.body.empty() || o.method == "POST" || o.method == "PUT") {
    request_ += "Content-Length: " + std::to_string(o.body.size()) + "\r\n";
  }
  request_ += "\r\n";
  request_ += o.body;

  llhttp_settings_init(&settings_);
  settings_.on_message_begin = &onMessageBegin;
  settings_.on_headers_complete = &onHeadersComplete;
  settings_.on_message_complete = &onMessageComplete;
  reset();
}

void HttpCodec::reset() {
  llhttp_init(&parser_, HTTP_RESPONSE, &settings_);
  parser_.data = this;
  peer_closes_ = false;
}

int HttpCodec::onMessageBegin(llhttp_t* p) {
  static_cast<HttpCodec*>(p->data)->sink_->onFirstByte();
  return 0;
}

int HttpCodec::onHeadersComplete(llhttp_t* p) {
  // 1: no body follows (what llhttp must be told for the answer to a HEAD request).
  return static_cast<HttpCodec*>(p->data)->head_ ? 1 : 0;
}

int HttpCodec::onMessageComplete(llhttp_t* p) {
  auto* self = static_cast<HttpCodec*>(p->data);
  // 1xx answers are interim: the request's own answer follows.
  if (p->status_code >= 100 && p->status_code < 200) {
    return 0;
  }
  if (!llhttp_should_keep_alive(p)) {
    self->peer_closes_ = true;
  }
  self->sink_->onResponse(p->status_code);
  return 0;
}

void HttpCodec::finish(ResponseSink& sink) {
  // llhttp completes a message whose body runs to the end of the connection here (and says
  // nothing of one cut short, which stays outstanding and is counted as closed).
  sink_ = &sink;
  llhttp_finish(&parser_);
}

Codec::Read HttpCodec::read(std::string_view in, ResponseSink& sink) {
  sink_ = &sink;
  llhttp_errno_t rc = llhttp_execute(&parser_, in.data(), in.size());
  if (rc == HPE_OK) {
    return Read::kOk;
  }
  if (rc == HPE_PAUSED_UPGRADE) {
    llhttp_resume_after_upgrade(&parser_);
    return Read::kOk;
  }
  return Read::kMalformed;
}

}  // namespace portd::load
