// Fuzz target for smtp://'s reply reader and session (daemon/load/smtp_codec.h). The input's
// first byte sets the client (requests issued, --churn, message size), the rest is what the
// server sends. Any broken invariant aborts:
//  - SmtpReplyParser: feed() never reports more bytes used than it was given, uses all of
//    them when it asks for more, makes progress with every reply, a malformed input stays
//    malformed, and the replies (code, PIPELINING, where each ends) are the same wherever the
//    input is split (whole, in two pieces at a position derived from the input, and up to
//    1 KiB one byte at a time);
//  - SmtpCodec, with its requests issued before the server's first byte: what it sends, the
//    answers it reports, and whether it finds the input malformed are the same wherever the
//    input is split; it never answers more requests than were issued, each answer has a first
//    byte and a 2xx, 4xx or 5xx code, and it sends no more than its requests can explain;
//  - SmtpCodec driven as the worker drives it (a new request for each answer) holds the same
//    bounds, with requests issued at whatever point the reads leave it.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "load/options.h"
#include "load/smtp_codec.h"

using portd::load::Codec;
using portd::load::LoadOptions;
using portd::load::ResponseSink;
using portd::load::SmtpCodec;
using portd::load::SmtpReplyParser;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_smtp_reply: invariant broken: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) {
    fail(what);
  }
}

std::vector<std::string> split(std::string_view input, size_t piece) {
  std::vector<std::string> pieces;
  for (size_t at = 0; at < input.size(); at += piece) {
    pieces.emplace_back(input.substr(at, piece));
  }
  return pieces;
}

std::vector<std::string> twoPieces(std::string_view input) {
  uint32_t hash = 2166136261u;  // FNV-1a: a split point that depends on every byte
  for (unsigned char c : input) {
    hash = (hash ^ c) * 16777619u;
  }
  const size_t at = 1 + hash % (input.size() - 1);
  return {std::string(input.substr(0, at)), std::string(input.substr(at))};
}

// ---- the reply reader

struct Reply {
  size_t end;
  int code;
  bool pipelining;
  bool operator==(const Reply&) const = default;
};

struct Replies {
  std::vector<Reply> replies;
  bool malformed = false;
  size_t malformed_at = 0;
  bool partial = false;
  bool operator==(const Replies&) const = default;
};

Replies parsePieces(const std::vector<std::string>& pieces) {
  SmtpReplyParser parser;
  Replies out;
  size_t base = 0;
  for (const std::string& piece : pieces) {
    std::string_view rest(piece);
    while (!rest.empty()) {
      size_t used = 0;
      const SmtpReplyParser::Status s = parser.feed(rest, &used);
      check(used <= rest.size(), "used more bytes than given");
      const size_t at = base + (piece.size() - rest.size()) + used;
      switch (s) {
        case SmtpReplyParser::Status::kNeedMore:
          check(used == rest.size(), "asked for more without using all it was given");
          check(parser.inReply(), "read bytes without being in a reply");
          break;
        case SmtpReplyParser::Status::kReply: {
          check(used > 0, "a reply of no bytes");
          const int code = parser.code();
          check(code >= 200 && code <= 559 && code % 100 <= 59, "a code RFC 5321 has not");
          out.replies.push_back(Reply{at, code, parser.pipelining()});
          break;
        }
        case SmtpReplyParser::Status::kMalformed: {
          out.malformed = true;
          out.malformed_at = at;
          size_t again = 0;
          check(parser.feed("250 ok\r\n", &again) == SmtpReplyParser::Status::kMalformed,
                "a malformed input went on");
          return out;
        }
      }
      rest.remove_prefix(used);
    }
    base += piece.size();
  }
  out.partial = parser.inReply();
  return out;
}

// ---- the session

struct Config {
  int requests;  // issued before the server's first byte (or, driven, outstanding at most)
  uint64_t churn;
  size_t size;
};

Config config(uint8_t b) {
  return Config{1 + (b & 3), static_cast<uint64_t>((b >> 2) & 3),
                1 + static_cast<size_t>(b >> 4) * 9};
}

struct RecordingSink : ResponseSink {
  size_t first_bytes = 0;
  std::vector<int> statuses;
  void onFirstByte() override { ++first_bytes; }
  void onResponse(int status) override {
    check(first_bytes > statuses.size(), "an answer without a first byte");
    statuses.push_back(status);
  }
};

struct Session {
  std::string sent;
  std::vector<int> statuses;
  bool malformed = false;
  bool peer_closes = false;
  bool can_close = true;
  bool operator==(const Session&) const = default;
};

LoadOptions options(const Config& c) {
  LoadOptions o;
  o.target.scheme = portd::load::Scheme::kSmtp;
  o.message_size = c.size;
  o.churn = c.churn;
  return o;
}

void checkAnswers(const std::vector<int>& statuses, size_t issued) {
  check(statuses.size() <= issued, "more answers than requests");
  for (int s : statuses) {
    check(s / 100 == 2 || s / 100 == 4 || s / 100 == 5, "an answer with a code that ends nothing");
  }
}

// What the session can have sent for `issued` requests: the greeting's EHLO and HELO, each
// transaction's RSET and commands and message, and a QUIT.
size_t sendBound(const Config& c, size_t issued) {
  std::string message;
  SmtpCodec::appendMessage(message, c.size);
  return 64 + issued * (128 + message.size());
}

Session runUpfront(const Config& c, const std::vector<std::string>& pieces) {
  SmtpCodec codec(options(c));
  codec.reset();
  Session out;
  RecordingSink sink;
  for (int i = 0; i < c.requests; ++i) {
    codec.request(out.sent);
  }
  for (const std::string& piece : pieces) {
    const bool ok = codec.read(piece, sink) == Codec::Read::kOk;
    // Taken even after a malformed reply: what came before it is the same however split.
    codec.takeOutput(out.sent);
    if (!ok) {
      out.malformed = true;
      break;
    }
  }
  checkAnswers(sink.statuses, static_cast<size_t>(c.requests));
  check(out.sent.size() <= sendBound(c, static_cast<size_t>(c.requests)), "sent too much");
  out.statuses = sink.statuses;
  out.peer_closes = codec.peerCloses();
  out.can_close = codec.canClose();
  return out;
}

// As the worker does: up to `requests` outstanding, one more for each answer, none once the
// session ends or --churn is reached.
void runDriven(const Config& c, const std::vector<std::string>& pieces) {
  SmtpCodec codec(options(c));
  codec.reset();
  RecordingSink sink;
  std::string sent;
  size_t issued = 0;
  auto refill = [&] {
    while (issued - sink.statuses.size() < static_cast<size_t>(c.requests) && !codec.peerCloses() &&
           (c.churn == 0 || issued < c.churn)) {
      codec.request(sent);
      ++issued;
    }
  };
  codec.takeOutput(sent);
  refill();
  for (const std::string& piece : pieces) {
    if (codec.read(piece, sink) != Codec::Read::kOk) {
      break;
    }
    codec.takeOutput(sent);
    refill();
  }
  checkAnswers(sink.statuses, issued);
  check(sent.size() <= sendBound(c, issued), "sent too much");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const Config c = config(data[0]);
  const std::string_view server(reinterpret_cast<const char*>(data) + 1, size - 1);

  const Replies whole = parsePieces({std::string(server)});
  const Session session = runUpfront(c, {std::string(server)});
  if (server.size() >= 2) {
    const std::vector<std::string> two = twoPieces(server);
    check(parsePieces(two) == whole, "two pieces read differently from the whole input");
    check(runUpfront(c, two) == session, "a session went differently in two pieces");
  }
  if (server.size() <= 1024) {
    const std::vector<std::string> bytes = split(server, 1);
    check(parsePieces(bytes) == whole, "one byte at a time read differently");
    check(runUpfront(c, bytes) == session, "a session went differently one byte at a time");
  }
  // Driven as the worker drives it, reads as they might come: by line, and whole.
  std::vector<std::string> lines;
  size_t from = 0;
  for (size_t i = 0; i < server.size(); ++i) {
    if (server[i] == '\n') {
      lines.emplace_back(server.substr(from, i + 1 - from));
      from = i + 1;
    }
  }
  if (from < server.size()) {
    lines.emplace_back(server.substr(from));
  }
  runDriven(c, lines);
  runDriven(c, {std::string(server)});
  return 0;
}
