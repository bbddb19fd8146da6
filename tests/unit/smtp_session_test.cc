// The smtp handler's session state machine on plain strings: replies, sequence and syntax
// errors, limits, BDAT, faults, and the same conversation split at every byte position.

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "handlers/smtp/session.h"

namespace portd::handlers::smtp {
namespace {

using Action = FeedResult::Action;

bool endsWith(const std::string& s, const std::string& suffix) { return s.ends_with(suffix); }

// Hooks that record what the session did, and give it scripted faults.
struct Recorder : SessionHooks {
  Fault fault(Stage stage) override {
    auto& q = faults[stage];
    if (q.empty()) {
      return Fault{};
    }
    Fault f = q.front();
    q.pop_front();
    return f;
  }
  bool beginMessage() override {
    ++begun;
    current.clear();
    return can_begin;
  }
  void messageBody(std::string_view b) override { current.append(b); }
  bool endMessage(bool deliver) override {
    if (deliver) {
      delivered.push_back(current);
    } else {
      ++discarded;
    }
    current.clear();
    return can_deliver;
  }
  void count(Event e, uint64_t n) override { counts[e] += n; }

  std::map<Stage, std::deque<Fault>> faults;
  std::map<Event, uint64_t> counts;
  std::vector<std::string> delivered;
  std::string current;
  int begun = 0;
  int discarded = 0;
  bool can_begin = true;
  bool can_deliver = true;
};

// A connection as the handler runs one: kept input comes back first, output is collected, and
// a feed that fills the output is fed again. Stops at a close, a disconnect or a delay.
struct Conversation {
  explicit Conversation(SessionConfig c = {}) : config(std::move(c)) {
    config.prepare();
    session = std::make_unique<Session>(config, hooks);
    last = session->open(out);
  }
  Action send(std::string_view bytes) {
    kept.append(bytes);
    while (true) {
      // A fresh buffer each time, as the handler writes its buffer out and clears it.
      std::string chunk;
      last = session->feed(kept, chunk);
      EXPECT_LE(chunk.size(), Session::kOutputBound + 512);
      if (last.action == Action::kDelay) {
        last.delayed_from += out.size();
      }
      out += chunk;
      kept.erase(0, last.consumed);
      if (last.action != Action::kFull) {
        return last.action;
      }
    }
  }
  SessionConfig config;
  Recorder hooks;
  std::unique_ptr<Session> session;
  FeedResult last;
  std::string kept;
  std::string out;
};

const std::string kGreeting = "220 portd.localhost ESMTP portd\r\n";
const std::string kEhlo =
    "250-portd.localhost\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n250-8BITMIME\r\n"
    "250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n";

const std::string kTransaction =
    "EHLO client.example\r\nMAIL FROM:<a@b.example> SIZE=30\r\nRCPT TO:<c@d.example>\r\n"
    "RCPT TO:<e@f.example>\r\nDATA\r\nSubject: x\r\n\r\n..dot\r\n.\r\nNOOP\r\nQUIT\r\n";
const std::string kTransactionReplies =
    kGreeting + kEhlo +
    "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
    "250 2.0.0 Ok: queued\r\n250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n";

TEST(SmtpSessionTest, PipelinedTransactionInOneRead) {
  Conversation c;
  EXPECT_EQ(c.send(kTransaction), Action::kClose);
  EXPECT_EQ(c.out, kTransactionReplies);
  ASSERT_EQ(c.hooks.delivered.size(), 1u);
  EXPECT_EQ(c.hooks.delivered[0], "Subject: x\r\n\r\n.dot\r\n");
  EXPECT_EQ(c.hooks.counts[Event::kMessage], 1u);
  EXPECT_EQ(c.hooks.counts[Event::kMessageBytes], 20u);
  EXPECT_EQ(c.hooks.counts[Event::kRecipient], 2u);
  EXPECT_EQ(c.hooks.counts[Event::kCommand], 7u);
  EXPECT_TRUE(c.session->closed());
}

TEST(SmtpSessionTest, SameRepliesSplitAtEveryBytePosition) {
  for (size_t at = 0; at <= kTransaction.size(); ++at) {
    Conversation c;
    c.send(kTransaction.substr(0, at));
    c.send(kTransaction.substr(at));
    EXPECT_EQ(c.out, kTransactionReplies) << "split at " << at;
    ASSERT_EQ(c.hooks.delivered.size(), 1u) << "split at " << at;
    EXPECT_EQ(c.hooks.delivered[0], "Subject: x\r\n\r\n.dot\r\n");
    // Only a partial command line is ever left to keep.
    EXPECT_LT(c.kept.size(), c.config.max_line);
  }
}

TEST(SmtpSessionTest, CommandsOutOfSequence) {
  Conversation c;
  c.send(
      "MAIL FROM:<a@b>\r\nRCPT TO:<a@b>\r\nDATA\r\nHELO x\r\nRCPT TO:<a@b>\r\nDATA\r\n"
      "MAIL FROM:<a@b>\r\nMAIL FROM:<a@b>\r\nDATA\r\n");
  EXPECT_EQ(c.out, kGreeting +
                       "503 5.5.1 Error: send HELO/EHLO first\r\n"
                       "503 5.5.1 Error: need MAIL command\r\n"
                       "503 5.5.1 Error: bad sequence of commands\r\n"
                       "250 portd.localhost\r\n"
                       "503 5.5.1 Error: need MAIL command\r\n"
                       "503 5.5.1 Error: bad sequence of commands\r\n"
                       "250 2.1.0 Ok\r\n"
                       "503 5.5.1 Error: nested MAIL command\r\n"
                       "554 5.5.1 Error: no valid recipients\r\n");
  EXPECT_EQ(c.hooks.counts[Event::kReply5xx], 7u);
}

TEST(SmtpSessionTest, OtherCommandsAndErrors) {
  Conversation c;
  c.send(
      "NOOP\r\nVRFY root\r\nVRFY\r\nHELP\r\nEXPN x\r\nSTARTTLS\r\n\r\nEHLO\r\nHELO x\r\n"
      "MAIL FROM:<a b>\r\nMAIL FROM:<a@b> FOO=1\r\nMAIL <a@b>\r\nMAIL FROM:<a@b> SIZE=x\r\n"
      "MAIL FROM:<a@b>\r\nRCPT TO:<>\r\nRCPT TO:<c@d> NOTIFY=NEVER\r\nRCPT TO:<c@d>\r\n"
      "RSET\r\nDATA\r\nRSET x\r\nDATA x\r\nQUIT x\r\nBDAT 1\r\n");
  EXPECT_EQ(c.out, kGreeting +
                       "250 2.0.0 Ok\r\n"
                       "252 2.5.0 Cannot VRFY user, but will accept message and attempt "
                       "delivery\r\n"
                       "501 5.5.4 Syntax error in parameters or arguments\r\n"
                       "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP\r\n"
                       "502 5.5.1 Error: command not implemented\r\n"
                       "500 5.5.2 Error: command not recognized\r\n"
                       "500 5.5.2 Error: command not recognized\r\n"
                       "501 5.5.4 Syntax: EHLO hostname\r\n"
                       "250 portd.localhost\r\n"
                       "501 5.1.7 Bad sender address syntax\r\n"
                       "555 5.5.4 Unsupported option\r\n"
                       "501 5.5.4 Syntax error in parameters or arguments\r\n"
                       "501 5.5.4 Syntax error in parameters or arguments\r\n"
                       "250 2.1.0 Ok\r\n"
                       "501 5.1.3 Bad recipient address syntax\r\n"
                       "555 5.5.4 Unsupported option\r\n"
                       "250 2.1.5 Ok\r\n"
                       "250 2.0.0 Ok\r\n"
                       "503 5.5.1 Error: bad sequence of commands\r\n"
                       "501 5.5.4 Syntax error in parameters or arguments\r\n"
                       "501 5.5.4 Syntax error in parameters or arguments\r\n"
                       "501 5.5.4 Syntax error in parameters or arguments\r\n"
                       "500 5.5.2 Error: command not recognized\r\n");
  EXPECT_FALSE(c.session->closed());
}

TEST(SmtpSessionTest, LineTooLongIsAnsweredAndSkippedWithoutKeepingIt) {
  SessionConfig config;
  config.max_line = 64;
  Conversation c(config);
  c.send("EHLO x\r\nNOOP " + std::string(100, 'a'));
  // Answered as soon as max_line bytes show no end of line; nothing of it is kept.
  EXPECT_PRED2(endsWith, c.out, "500 5.5.2 Error: line too long\r\n");
  EXPECT_TRUE(c.kept.empty());
  c.send(std::string(1000, 'b'));
  EXPECT_TRUE(c.kept.empty());
  c.out.clear();
  c.send("bbb\r\nNOOP\r\n");
  EXPECT_EQ(c.out, "250 2.0.0 Ok\r\n");
  EXPECT_EQ(c.hooks.counts[Event::kLineTooLong], 1u);
  // A line of exactly max_line bytes, CRLF included, is served.
  c.out.clear();
  c.send("NOOP " + std::string(57, 'c') + "\r\n");
  EXPECT_EQ(c.out, "250 2.0.0 Ok\r\n");
  c.out.clear();
  c.send("NOOP " + std::string(58, 'c') + "\r\n");
  EXPECT_EQ(c.out, "500 5.5.2 Error: line too long\r\n");
}

TEST(SmtpSessionTest, MessageOverTheSizeLimitIsReadToItsEndAndRefused) {
  SessionConfig config;
  config.max_message_size = 100;
  Conversation c(config);
  c.send("EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
  c.out.clear();
  for (int i = 0; i < 10; ++i) {
    c.send(std::string(50, 'x') + "\r\n");
  }
  EXPECT_TRUE(c.out.empty());
  c.send(".\r\nMAIL FROM:<a@b> SIZE=101\r\nMAIL FROM:<a@b> SIZE=100\r\n");
  EXPECT_EQ(c.out,
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
            "250 2.1.0 Ok\r\n");
  EXPECT_TRUE(c.hooks.delivered.empty());
  EXPECT_EQ(c.hooks.discarded, 1);
  EXPECT_EQ(c.hooks.counts[Event::kTooLarge], 2u);
  EXPECT_LE(c.hooks.current.size(), 100u);
}

TEST(SmtpSessionTest, MessageOfExactlyTheLimitIsAccepted) {
  SessionConfig config;
  config.max_message_size = 10;
  Conversation c(config);
  c.send("EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n12345678\r\n.\r\n");
  ASSERT_EQ(c.hooks.delivered.size(), 1u);
  EXPECT_EQ(c.hooks.delivered[0], "12345678\r\n");
}

TEST(SmtpSessionTest, TooManyRecipients) {
  SessionConfig config;
  config.max_recipients = 2;
  Conversation c(config);
  c.send("EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<1@d>\r\nRCPT TO:<2@d>\r\nRCPT TO:<3@d>\r\n");
  EXPECT_PRED2(endsWith, c.out, "452 4.5.3 Error: too many recipients\r\n");
  EXPECT_EQ(c.hooks.counts[Event::kTooManyRecipients], 1u);
  EXPECT_EQ(c.hooks.counts[Event::kReply4xx], 1u);
}

TEST(SmtpSessionTest, EhloAndRsetEndATransaction) {
  Conversation c;
  c.send(
      "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRSET\r\nDATA\r\nMAIL FROM:<a@b>\r\n"
      "EHLO y\r\nRCPT TO:<c@d>\r\n");
  EXPECT_PRED2(endsWith, c.out, "503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_EQ(c.hooks.begun, 0);
}

TEST(SmtpSessionTest, EndOfMessageMayBeFollowedByMoreMessages) {
  Conversation c;
  std::string wire = "EHLO x\r\n";
  for (int i = 0; i < 3; ++i) {
    wire +=
        "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nmessage " + std::to_string(i) + "\r\n.\r\n";
  }
  c.send(wire);
  ASSERT_EQ(c.hooks.delivered.size(), 3u);
  EXPECT_EQ(c.hooks.delivered[2], "message 2\r\n");
}

TEST(SmtpSessionTest, StorageFailuresAnswer451) {
  Conversation c;
  c.hooks.can_begin = false;
  c.send("EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
  EXPECT_PRED2(endsWith, c.out, "451 4.3.0 Error: local error in processing\r\n");
  c.hooks.can_begin = true;
  c.hooks.can_deliver = false;
  c.send("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\n");
  EXPECT_PRED2(endsWith, c.out, "451 4.3.0 Error: local error in processing\r\n");
  EXPECT_EQ(c.hooks.counts[Event::kDeliveryFailed], 2u);
  EXPECT_EQ(c.hooks.counts[Event::kMessage], 0u);
}

TEST(SmtpSessionTest, CloseThrowsAwayAMessageInProgress) {
  Conversation c;
  c.send("EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nhalf a mess");
  c.session->close();
  EXPECT_EQ(c.hooks.discarded, 1);
  EXPECT_TRUE(c.hooks.delivered.empty());
}

SessionConfig chunking() {
  SessionConfig config;
  config.chunking = true;
  return config;
}

TEST(SmtpSessionTest, BdatChunksAtEveryBytePosition) {
  std::string bytes = "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 7\r\nhe\r\n.\r\n";
  bytes += "BDAT 3 LAST\r\n";
  bytes += std::string("\0\n.", 3);
  bytes += "QUIT\r\n";
  for (size_t at = 0; at <= bytes.size(); ++at) {
    Conversation c(chunking());
    c.send(bytes.substr(0, at));
    c.send(bytes.substr(at));
    EXPECT_NE(c.out.find("250-CHUNKING\r\n"), std::string::npos);
    EXPECT_NE(c.out.find("250 2.0.0 7 octets received\r\n250 2.0.0 Ok: queued\r\n221"),
              std::string::npos)
        << c.out;
    ASSERT_EQ(c.hooks.delivered.size(), 1u) << "split at " << at;
    EXPECT_EQ(c.hooks.delivered[0], std::string("he\r\n.\r\n\0\n.", 10));
  }
}

TEST(SmtpSessionTest, BdatRules) {
  Conversation off;
  off.send("EHLO x\r\nBDAT 1\r\n");
  EXPECT_PRED2(endsWith, off.out, "500 5.5.2 Error: command not recognized\r\n");

  Conversation c(chunking());
  // A refused chunk is still read, so its bytes are not taken for commands.
  c.send("EHLO x\r\nBDAT 6\r\nQUIT\r\nMAIL FROM:<a@b>\r\nBDAT 4 LAST\r\nRSET");
  EXPECT_NE(c.out.find("503 5.5.1 Error: bad sequence of commands\r\n250 2.1.0 Ok\r\n"
                       "554 5.5.1 Error: no valid recipients\r\n"),
            std::string::npos)
      << c.out;
  c.out.clear();
  c.send("RCPT TO:<c@d>\r\nBDAT 1\r\nxDATA\r\nRCPT TO:<e@f>\r\nBDAT 0 LAST\r\nBDAT x\r\n");
  EXPECT_EQ(c.out,
            "250 2.1.5 Ok\r\n250 2.0.0 1 octets received\r\n"
            "503 5.5.1 Error: bad sequence of commands\r\n"
            "503 5.5.1 Error: bad sequence of commands\r\n"
            "250 2.0.0 Ok: queued\r\n"
            "501 5.5.4 Syntax error in parameters or arguments\r\n");
  ASSERT_EQ(c.hooks.delivered.size(), 1u);
  EXPECT_EQ(c.hooks.delivered[0], "x");
}

TEST(SmtpSessionTest, OutputIsBoundedWithinOneRead) {
  Conversation c;
  std::string many;
  for (int i = 0; i < 5000; ++i) {
    many += "NOOP\r\n";
  }
  c.out.clear();
  const FeedResult first = c.session->feed(many, c.out);
  EXPECT_EQ(first.action, Action::kFull);
  EXPECT_LT(first.consumed, many.size());
  EXPECT_LE(c.out.size(), Session::kOutputBound + 64);
  c.out.clear();
  c.send(many);
  EXPECT_EQ(c.hooks.counts[Event::kCommand], 5000u + first.consumed / 6);
}

Fault reply(int code) { return Fault{Fault::Kind::kReply, code, 0}; }

TEST(SmtpSessionTest, InjectedReplyLeavesTheStateAsItWas) {
  Conversation c;
  c.hooks.faults[Stage::kRcpt].push_back(reply(451));
  c.hooks.faults[Stage::kDataEnd].push_back(reply(554));
  c.send(
      "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\n");
  EXPECT_NE(c.out.find("250 2.1.0 Ok\r\n451 4.0.0 Error: injected fault\r\n"
                       "554 5.5.1 Error: no valid recipients\r\n250 2.1.5 Ok\r\n354 "),
            std::string::npos)
      << c.out;
  EXPECT_PRED2(endsWith, c.out, "554 5.0.0 Error: injected fault\r\n");
  EXPECT_TRUE(c.hooks.delivered.empty());
  EXPECT_EQ(c.hooks.discarded, 1);
  EXPECT_EQ(c.hooks.counts[Event::kFaultReply], 2u);
  EXPECT_EQ(c.hooks.counts[Event::kReply4xx], 1u);
}

TEST(SmtpSessionTest, Injected421ClosesAndDisconnectSendsNothing) {
  Conversation c;
  c.hooks.faults[Stage::kMail].push_back(Fault{Fault::Kind::kClose421, 0, 0});
  EXPECT_EQ(c.send("EHLO x\r\nMAIL FROM:<a@b>\r\nNOOP\r\n"), Action::kClose);
  EXPECT_PRED2(endsWith, c.out,
               "421 4.3.2 portd.localhost Service not available, closing transmission channel\r\n");
  EXPECT_EQ(c.hooks.counts[Event::kFault421], 1u);

  Conversation d;
  d.hooks.faults[Stage::kDataEnd].push_back(Fault{Fault::Kind::kDisconnect, 0, 0});
  EXPECT_EQ(d.send("EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\n"),
            Action::kDisconnect);
  EXPECT_PRED2(endsWith, d.out, "<CR><LF>\r\n");  // the 354, and nothing after it
  EXPECT_EQ(d.hooks.discarded, 1);
  EXPECT_TRUE(d.session->closed());
}

TEST(SmtpSessionTest, DelayedReplyStopsTheReadAtItsCommand) {
  Conversation c;
  c.hooks.faults[Stage::kMail].push_back(Fault{Fault::Kind::kNone, 0, 200});
  EXPECT_EQ(c.send("EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n"), Action::kDelay);
  EXPECT_EQ(c.last.delay_ms, 200u);
  EXPECT_EQ(c.out.substr(c.last.delayed_from), "250 2.1.0 Ok\r\n");
  EXPECT_FALSE(c.last.close_after);
  EXPECT_EQ(c.kept, "RCPT TO:<c@d>\r\n");  // not read until the delayed reply is out
  EXPECT_EQ(c.hooks.counts[Event::kFaultDelay], 1u);
  c.out.clear();
  c.send("");
  EXPECT_EQ(c.out, "250 2.1.5 Ok\r\n");

  Conversation q;
  q.hooks.faults[Stage::kQuit].push_back(Fault{Fault::Kind::kNone, 0, 50});
  EXPECT_EQ(q.send("QUIT\r\n"), Action::kDelay);
  EXPECT_TRUE(q.last.close_after);
  EXPECT_EQ(q.out.substr(q.last.delayed_from), "221 2.0.0 Bye\r\n");
}

TEST(SmtpSessionTest, RefusedGreetingServesOnlyQuit) {
  SessionConfig config;
  config.prepare();
  Recorder hooks;
  hooks.faults[Stage::kGreeting].push_back(reply(554));
  Session s(config, hooks);
  std::string out;
  EXPECT_EQ(s.open(out).action, Action::kMore);
  EXPECT_EQ(out, "554 5.0.0 Error: injected fault\r\n");
  out.clear();
  EXPECT_EQ(s.feed("EHLO x\r\nQUIT\r\n", out).action, Action::kClose);
  EXPECT_EQ(out, "503 5.5.1 Error: bad sequence of commands\r\n221 2.0.0 Bye\r\n");
}

}  // namespace
}  // namespace portd::handlers::smtp
