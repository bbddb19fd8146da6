// Fuzz target for the smtp handler's session (daemon/handlers/smtp/session.h): the first byte
// chooses the settings (BDAT on or off, and which stage gets an injected fault every few
// times), the rest is what a client sends. It is fed whole, in two pieces split at a position
// derived from the input, and (up to 1 KiB) one byte at a time, with small limits, as the
// handler feeds it: kept input first, a fresh output buffer per feed, fed again after kFull or
// a delay. Any broken invariant aborts:
//  - feed() never uses more than it was given, and what it leaves on kMore is a partial
//    command line shorter than max_line: the session keeps nothing unbounded;
//  - one feed's output stays within Session::kOutputBound plus one reply;
//  - a delayed reply starts inside the output; nothing follows a disconnect or a close;
//  - no message delivered is over max_message_size, and every message begun is ended once;
//  - the replies and the messages delivered are the same wherever the input is split.
// Each piece is a heap copy of its own, so that AddressSanitizer catches a look past its end.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/smtp/session.h"

using portd::handlers::smtp::Event;
using portd::handlers::smtp::Fault;
using portd::handlers::smtp::FeedResult;
using portd::handlers::smtp::Session;
using portd::handlers::smtp::SessionConfig;
using portd::handlers::smtp::SessionHooks;
using portd::handlers::smtp::Stage;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_smtp_session: invariant broken: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) {
    fail(what);
  }
}

// Faults at one stage, every third time it is reached, by kind (from the settings byte): the
// same calls in the same order whatever the split, so the outcome must not change.
struct Hooks : SessionHooks {
  Hooks(const SessionConfig& c, uint8_t settings) : config(c), settings(settings) {}

  Fault fault(Stage stage) override {
    const auto target = static_cast<Stage>((settings >> 1) % static_cast<int>(Stage::kCount));
    if (stage != target || ++asked % 3 != 0) {
      return Fault{};
    }
    switch ((settings >> 4) & 3) {
      case 0:
        return Fault{Fault::Kind::kReply, 451, 0};
      case 1:
        return Fault{Fault::Kind::kReply, 550, 10};
      case 2:
        return Fault{Fault::Kind::kClose421, 0, 0};
      default:
        return Fault{Fault::Kind::kDisconnect, 0, 0};
    }
  }
  bool beginMessage() override {
    check(!open, "a message begun twice");
    current.clear();
    // Some storage failures: refused, the message is not begun and is never ended.
    open = (settings & 0x40) == 0 || ++begun % 2 == 1;
    return open;
  }
  void messageBody(std::string_view bytes) override {
    check(open, "body bytes outside a message");
    current.append(bytes);
    check(current.size() <= config.max_message_size, "a message stored past the size limit");
  }
  bool endMessage(bool deliver) override {
    check(open, "a message ended that was not begun");
    open = false;
    if (deliver) {
      delivered.push_back(current);
    }
    return true;
  }
  void count(Event, uint64_t) override {}

  const SessionConfig& config;
  uint8_t settings;
  int asked = 0;
  int begun = 0;
  bool open = false;
  std::string current;
  std::vector<std::string> delivered;
};

struct Outcome {
  std::string replies;
  std::vector<std::string> delivered;
  bool operator==(const Outcome&) const = default;
};

Outcome run(const std::vector<std::string_view>& pieces, const SessionConfig& config,
            uint8_t settings) {
  Hooks hooks(config, settings);
  Outcome outcome;
  std::string kept;
  bool ended = false;
  {
    Session session(config, hooks);
    std::string out;
    const FeedResult greeting = session.open(out);
    outcome.replies += out;
    ended = greeting.action == FeedResult::Action::kClose ||
            greeting.action == FeedResult::Action::kDisconnect ||
            (greeting.action == FeedResult::Action::kDelay && greeting.close_after);
    for (std::string_view piece : pieces) {
      if (ended) {
        break;
      }
      kept.append(piece);
      while (!ended) {
        const std::unique_ptr<char[]> copy(new char[kept.size() + 1]);
        kept.copy(copy.get(), kept.size());
        out.clear();
        const FeedResult r = session.feed(std::string_view(copy.get(), kept.size()), out);
        check(r.consumed <= kept.size(), "used more than it was given");
        check(out.size() <= Session::kOutputBound + 512, "output past its bound");
        outcome.replies += out;
        kept.erase(0, r.consumed);
        using A = FeedResult::Action;
        if (r.action == A::kMore) {
          check(kept.size() < config.max_line, "kept a whole line or more");
          break;
        }
        if (r.action == A::kDelay) {
          check(r.delayed_from < out.size(), "a delayed reply outside the output");
          if (r.close_after) {
            ended = true;
          }
          continue;  // the timer fired: what was kept is fed again
        }
        if (r.action == A::kClose || r.action == A::kDisconnect) {
          ended = true;
        }
        // kFull: written out; feed the rest.
      }
    }
    session.close();
  }
  check(!hooks.open, "a message left open after close()");
  outcome.delivered = hooks.delivered;
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const uint8_t settings = data[0];
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  SessionConfig config;
  config.max_line = 64;
  config.max_message_size = 256;
  config.max_recipients = 3;
  config.chunking = (settings & 1) != 0;
  config.prepare();

  const Outcome whole = run({input}, config, settings);
  const size_t at = input.empty() ? 0 : (static_cast<size_t>(settings) * 131 + size) % input.size();
  const std::string_view view(input);
  check(run({view.substr(0, at), view.substr(at)}, config, settings) == whole,
        "a split changed the outcome");
  if (input.size() <= 1024) {
    std::vector<std::string_view> bytes;
    for (size_t i = 0; i < input.size(); ++i) {
      bytes.push_back(view.substr(i, 1));
    }
    check(run(bytes, config, settings) == whole, "byte-at-a-time changed the outcome");
  }
  return 0;
}
