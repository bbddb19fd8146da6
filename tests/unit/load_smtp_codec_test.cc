// smtp:// in `portd load`: the reply reader, and whole sessions against canned server bytes
// (pipelined and not, refusals at every step, QUIT after --churn), split at every byte.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "load/options.h"
#include "load/smtp_codec.h"

namespace portd::load {
namespace {

constexpr std::string_view kEhlo = "EHLO portd.test\r\n";
constexpr std::string_view kHelo = "HELO portd.test\r\n";
constexpr std::string_view kGroup =
    "MAIL FROM:<load@portd.test>\r\nRCPT TO:<sink@portd.test>\r\nDATA\r\n";
constexpr std::string_view kMail = "MAIL FROM:<load@portd.test>\r\n";
constexpr std::string_view kRcpt = "RCPT TO:<sink@portd.test>\r\n";
constexpr std::string_view kData = "DATA\r\n";

constexpr std::string_view kGreeting = "220 sink.test ESMTP\r\n";
constexpr std::string_view kEhloPipelining =
    "250-sink.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n";
constexpr std::string_view kEhloPlain = "250-sink.test\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n";

struct RecordingSink : ResponseSink {
  int first_bytes = 0;
  std::vector<int> statuses;
  void onFirstByte() override { ++first_bytes; }
  void onResponse(int status) override { statuses.push_back(status); }
};

LoadOptions smtpOptions(size_t size = 100, uint64_t churn = 0) {
  LoadOptions o;
  o.target.scheme = Scheme::kSmtp;
  o.message_size = size;
  o.churn = churn;
  return o;
}

std::string message(size_t size = 100) {
  std::string m;
  SmtpCodec::appendMessage(m, size);
  return m;
}

// A client session as the worker drives it: what the codec writes (requests, and its own
// output asked for after each read) goes to `sent`, in order.
struct Session {
  explicit Session(const LoadOptions& o) : codec(o) {
    codec.reset();
    codec.takeOutput(sent);
  }
  void request(int n = 1) {
    for (int i = 0; i < n; ++i) {
      codec.request(sent);
    }
  }
  // The server's bytes, in pieces of `piece` bytes.
  Codec::Read server(std::string_view bytes, size_t piece = SIZE_MAX) {
    for (size_t at = 0; at < bytes.size(); at += piece) {
      const Codec::Read r = codec.read(bytes.substr(at, piece), sink);
      if (r != Codec::Read::kOk) {
        return r;
      }
      codec.takeOutput(sent);
    }
    return Codec::Read::kOk;
  }

  SmtpCodec codec;
  RecordingSink sink;
  std::string sent;
};

// The replies SmtpReplyParser reads from `in` in pieces of `piece` bytes: each code, with "P"
// when it carried PIPELINING; "M" for malformed (and stop); "partial" if one was left open.
std::vector<std::string> replies(std::string_view in, size_t piece = SIZE_MAX) {
  SmtpReplyParser p;
  std::vector<std::string> out;
  for (size_t at = 0; at < in.size(); at += piece) {
    std::string_view part = in.substr(at, piece);
    while (!part.empty()) {
      size_t used = 0;
      const auto s = p.feed(part, &used);
      EXPECT_LE(used, part.size());
      if (s == SmtpReplyParser::Status::kMalformed) {
        out.push_back("M");
        return out;
      }
      if (s == SmtpReplyParser::Status::kReply) {
        EXPECT_GT(used, 0u);
        out.push_back(std::to_string(p.code()) + (p.pipelining() ? "P" : ""));
      } else {
        EXPECT_EQ(used, part.size());
      }
      part.remove_prefix(used);
    }
  }
  if (p.inReply()) {
    out.push_back("partial");
  }
  return out;
}

TEST(SmtpReplyParserTest, ReadsSingleAndMultiLineRepliesWhateverTheSplit) {
  const std::string in = std::string(kGreeting) + std::string(kEhloPipelining) +
                         "250-sink\r\n250-pipelining\r\n250\r\n" +    // any case; a bare last line
                         "250-sink\r\n250-PIPELININGX\r\n250 \r\n" +  // not the keyword
                         "250-X PIPELINING\r\n250 ok\r\n" +           // nor the first word
                         "354 End data with <CR><LF>.<CR><LF>\r\n" + "221 2.0.0 Bye\r\n";
  const std::vector<std::string> expected = {"220", "250P", "250P", "250", "250", "354", "221"};
  for (size_t piece = 1; piece <= in.size(); ++piece) {
    ASSERT_EQ(replies(in, piece), expected) << "pieces of " << piece;
  }
}

TEST(SmtpReplyParserTest, RefusesWhatIsNotAReply) {
  for (const std::string& bad : std::vector<std::string>{
           "25\r\n",                                  // two digits
           "2500 ok\r\n",                             // four
           "150 ok\r\n",                              // first digit 1
           "600 ok\r\n",                              // first digit 6
           "260 ok\r\n",                              // second digit 6
           "250x\r\n",                                // neither '-' nor ' ' after the code
           "250-a\r\n251 b\r\n",                      // two codes in one reply
           "250 ok\n",                                // bare LF
           "250 o\rk\r\n",                            // bare CR
           "250\n",                                   //
           "ok\r\n",                                  //
           " 250 ok\r\n",                             //
           "250 " + std::string(5000, 'x') + "\r\n",  // over the line limit
       }) {
    EXPECT_EQ(replies(bad), std::vector<std::string>{"M"}) << bad;
    EXPECT_EQ(replies(bad, 1), std::vector<std::string>{"M"}) << bad;
  }
  std::string many;
  for (size_t i = 0; i < SmtpReplyParser::kMaxLines; ++i) {
    many += "250-x\r\n";
  }
  EXPECT_EQ(replies(many + "250 y\r\n"), std::vector<std::string>{"M"});
  // One line fewer is a reply.
  EXPECT_EQ(replies(many.substr(7) + "250 y\r\n"), std::vector<std::string>{"250"});
}

TEST(SmtpCodecTest, PipelinedSessionSplitAtEveryByte) {
  const std::string server = std::string(kGreeting) + std::string(kEhloPipelining) +
                             "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data\r\n" +
                             "250-2.0.0 Ok: queued\r\n250 as 1234\r\n";
  const std::string expected =
      std::string(kEhlo) + std::string(kGroup) + message();  // MAIL RCPT DATA in one go
  for (size_t piece = 1; piece <= server.size(); ++piece) {
    Session s(smtpOptions());
    s.request();  // before the greeting: it waits in the codec
    ASSERT_EQ(s.sent, "");
    ASSERT_EQ(s.server(server, piece), Codec::Read::kOk) << "pieces of " << piece;
    ASSERT_EQ(s.sent, expected) << "pieces of " << piece;
    ASSERT_EQ(s.sink.statuses, std::vector<int>{250}) << "pieces of " << piece;
    EXPECT_EQ(s.sink.first_bytes, 1);
    EXPECT_FALSE(s.codec.peerCloses());
  }
}

TEST(SmtpCodecTest, WithoutPipeliningOneCommandPerReplyAndRequestsWaitTheirTurn) {
  const std::string one = "250 sender ok\r\n250 rcpt ok\r\n354 go ahead\r\n250 queued\r\n";
  const std::string server = std::string(kGreeting) + std::string(kEhloPlain) + one + one;
  const std::string transaction =
      std::string(kMail) + std::string(kRcpt) + std::string(kData) + message();
  for (size_t piece : {size_t{1}, size_t{3}, size_t{7}, server.size()}) {
    Session s(smtpOptions());
    s.request(2);  // -p 2: the second waits for the first to end
    ASSERT_EQ(s.server(server, piece), Codec::Read::kOk);
    EXPECT_EQ(s.sent, std::string(kEhlo) + transaction + transaction);
    EXPECT_EQ(s.sink.statuses, (std::vector<int>{250, 250}));
  }
}

TEST(SmtpCodecTest, ARequestAfterTheSessionIsReadyIsWrittenAtOnce) {
  Session s(smtpOptions());
  ASSERT_EQ(s.server(std::string(kGreeting) + std::string(kEhloPipelining)), Codec::Read::kOk);
  EXPECT_EQ(s.sent, kEhlo);
  s.request();
  EXPECT_EQ(s.sent, std::string(kEhlo) + std::string(kGroup));
}

TEST(SmtpCodecTest, APipelinedRefusalIsTheAnswerAndTheNextTransactionResets) {
  Session s(smtpOptions());
  s.request(2);
  ASSERT_EQ(s.server(std::string(kGreeting) + std::string(kEhloPipelining) +
                     "250 ok\r\n550 5.1.1 no such user\r\n554 5.5.1 no valid recipients\r\n"),
            Codec::Read::kOk);
  EXPECT_EQ(s.sink.statuses, std::vector<int>{550});
  // The refused transaction may have left MAIL open on the server: RSET first, in the group.
  EXPECT_EQ(s.sent, std::string(kEhlo) + std::string(kGroup) + "RSET\r\n" + std::string(kGroup));
  ASSERT_EQ(s.server("250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n"),
            Codec::Read::kOk);
  EXPECT_EQ(s.sink.statuses, (std::vector<int>{550, 250}));
}

TEST(SmtpCodecTest, ALockstepRefusalStopsTheTransaction) {
  Session s(smtpOptions());
  s.request(2);
  ASSERT_EQ(s.server(std::string(kGreeting) + std::string(kEhloPlain) + "451 4.3.0 try later\r\n"),
            Codec::Read::kOk);
  EXPECT_EQ(s.sink.statuses, std::vector<int>{451});
  EXPECT_EQ(s.sent, std::string(kEhlo) + std::string(kMail) + "RSET\r\n");
  ASSERT_EQ(s.server("250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n"),
            Codec::Read::kOk);
  EXPECT_EQ(s.sent, std::string(kEhlo) + std::string(kMail) + "RSET\r\n" + std::string(kMail) +
                        std::string(kRcpt) + std::string(kData) + message());
  EXPECT_EQ(s.sink.statuses, (std::vector<int>{451, 250}));
}

TEST(SmtpCodecTest, DataTakenAfterARefusedRecipientGetsAnEmptyMessage) {
  Session s(smtpOptions());
  s.request();
  ASSERT_EQ(s.server(std::string(kGreeting) + std::string(kEhloPipelining) +
                     "250 ok\r\n550 no\r\n354 go ahead anyway\r\n250 ok\r\n"),
            Codec::Read::kOk);
  EXPECT_EQ(s.sent, std::string(kEhlo) + std::string(kGroup) + ".\r\n");
  EXPECT_EQ(s.sink.statuses, std::vector<int>{550});
}

TEST(SmtpCodecTest, AMessageRefusedAfterItsDataNeedsNoReset) {
  Session s(smtpOptions());
  s.request(2);
  ASSERT_EQ(s.server(std::string(kGreeting) + std::string(kEhloPipelining) +
                     "250 ok\r\n250 ok\r\n354 go\r\n554 5.7.1 rejected\r\n"),
            Codec::Read::kOk);
  EXPECT_EQ(s.sink.statuses, std::vector<int>{554});
  EXPECT_EQ(s.sent, std::string(kEhlo) + std::string(kGroup) + message() + std::string(kGroup));
}

TEST(SmtpCodecTest, ARefusedSessionAnswersEveryWaitingRequestThenQuits) {
  Session s(smtpOptions());
  s.request(3);
  ASSERT_EQ(s.server("554 5.3.2 no service for you\r\n"), Codec::Read::kOk);
  EXPECT_EQ(s.sink.statuses, (std::vector<int>{554, 554, 554}));
  EXPECT_EQ(s.sent, "QUIT\r\n");
  EXPECT_TRUE(s.codec.peerCloses());
  EXPECT_FALSE(s.codec.canClose());  // the 221 first
  ASSERT_EQ(s.server("221 bye\r\n"), Codec::Read::kOk);
  EXPECT_TRUE(s.codec.canClose());
}

TEST(SmtpCodecTest, A421GreetingClosesWithoutQuit) {
  Session s(smtpOptions());
  s.request();
  ASSERT_EQ(s.server("421 4.3.2 busy\r\n"), Codec::Read::kOk);
  EXPECT_EQ(s.sink.statuses, std::vector<int>{421});
  EXPECT_EQ(s.sent, "");
  EXPECT_TRUE(s.codec.peerCloses());
  EXPECT_TRUE(s.codec.canClose());
}

TEST(SmtpCodecTest, AServerWithoutEhloIsGreetedWithHelo) {
  Session s(smtpOptions());
  s.request();
  // PIPELINING in a HELO reply means nothing: HELO is plain SMTP.
  ASSERT_EQ(s.server(std::string(kGreeting) + "500 5.5.1 unknown command\r\n" +
                     "250-sink\r\n250 PIPELINING\r\n"),
            Codec::Read::kOk);
  EXPECT_EQ(s.sent, std::string(kEhlo) + std::string(kHelo) + std::string(kMail));

  Session t(smtpOptions());
  t.request();
  ASSERT_EQ(t.server(std::string(kGreeting) + "502 no\r\n" + "502 no either\r\n"),
            Codec::Read::kOk);
  EXPECT_EQ(t.sink.statuses, std::vector<int>{502});
  EXPECT_EQ(t.sent, std::string(kEhlo) + std::string(kHelo) + "QUIT\r\n");
}

TEST(SmtpCodecTest, ChurnQuitsAfterTheLastMessageAndWaitsForTheGoodbye) {
  Session s(smtpOptions(100, 2));
  s.request(2);
  const std::string one = "250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n";
  ASSERT_EQ(s.server(std::string(kGreeting) + std::string(kEhloPipelining) + one + one),
            Codec::Read::kOk);
  EXPECT_EQ(s.sink.statuses, (std::vector<int>{250, 250}));
  EXPECT_TRUE(s.sent.ends_with(message() + "QUIT\r\n"));
  EXPECT_TRUE(s.codec.peerCloses());
  EXPECT_FALSE(s.codec.canClose());
  ASSERT_EQ(s.server("221 2.0.0 Bye\r\n"), Codec::Read::kOk);
  EXPECT_TRUE(s.codec.canClose());
  // And a new connection starts a new session.
  s.codec.reset();
  EXPECT_FALSE(s.codec.peerCloses());
  s.sent.clear();
  s.request();
  EXPECT_EQ(s.sent, "");
  ASSERT_EQ(s.server(kGreeting), Codec::Read::kOk);
  EXPECT_EQ(s.sent, kEhlo);
}

TEST(SmtpCodecTest, A421InTheMiddleEndsTheTransactionAndTheSession) {
  Session s(smtpOptions());
  s.request(2);
  ASSERT_EQ(s.server(std::string(kGreeting) + std::string(kEhloPipelining) +
                     "421 4.4.2 shutting down\r\n"),
            Codec::Read::kOk);
  EXPECT_EQ(s.sink.statuses, std::vector<int>{421});
  EXPECT_TRUE(s.codec.peerCloses());
  // The second request is not started: the server closes, and the worker counts it closed.
  EXPECT_EQ(s.sent, std::string(kEhlo) + std::string(kGroup));
}

TEST(SmtpCodecTest, AnIdle421IsNotMalformed) {
  Session s(smtpOptions());
  ASSERT_EQ(s.server(std::string(kGreeting) + std::string(kEhloPipelining) + "421 timeout\r\n"),
            Codec::Read::kOk);
  EXPECT_TRUE(s.codec.peerCloses());
}

TEST(SmtpCodecTest, RepliesOutOfPlaceAreMalformed) {
  const std::string ready = std::string(kGreeting) + std::string(kEhloPipelining);
  struct Case {
    const char* what;
    int requests;
    std::string server;
  };
  for (const Case& c : std::vector<Case>{
           {"a reply to nothing", 0, ready + "250 ok\r\n"},
           {"DATA answered 250", 1, ready + "250 ok\r\n250 ok\r\n250 ok\r\n"},
           {"MAIL answered 354", 1, ready + "354 what\r\n"},
           {"a greeting of 354", 1, "354 hello\r\n"},
           {"EHLO answered 354", 1, std::string(kGreeting) + "354 hello\r\n"},
           {"the message answered 354", 1, ready + "250 ok\r\n250 ok\r\n354 go\r\n354 again\r\n"},
           {"garbage", 1, "HTTP/1.1 200 OK\r\n"},
           {"a reply after QUIT's", 1, "554 no\r\n221 bye\r\n250 more\r\n"},
       }) {
    for (size_t piece : {size_t{1}, c.server.size()}) {
      Session s(smtpOptions());
      s.request(c.requests);
      EXPECT_EQ(s.server(c.server, piece), Codec::Read::kMalformed) << c.what;
    }
  }
}

TEST(SmtpCodecTest, MessagesAreDotStuffedLinesOfAtMost78) {
  for (size_t size : {1, 2, 3, 4, 78, 79, 80, 81, 82, 83, 160, 161, 162, 1024, 100000}) {
    const std::string m = message(size);
    const std::string headers =
        "From: <load@portd.test>\r\nTo: <sink@portd.test>\r\nSubject: portd load\r\n\r\n";
    ASSERT_TRUE(m.starts_with(headers)) << size;
    ASSERT_TRUE(m.ends_with("\r\n.\r\n")) << size;
    // The body as the server keeps it: lines unstuffed, up to the final ".".
    std::string_view body(m);
    body.remove_prefix(headers.size());
    body.remove_suffix(3);
    size_t unstuffed = 0;
    size_t stuffed_lines = 0;
    while (!body.empty()) {
      const size_t eol = body.find("\r\n");
      ASSERT_NE(eol, std::string_view::npos) << size;
      std::string_view line = body.substr(0, eol);
      body.remove_prefix(eol + 2);
      ASSERT_NE(line, ".") << "an unstuffed end of data inside the body, size " << size;
      if (line.starts_with(".")) {
        ASSERT_TRUE(line.starts_with("..")) << "a leading dot not doubled, size " << size;
        line.remove_prefix(1);
        ++stuffed_lines;
      }
      ASSERT_GE(line.size(), 1u);
      ASSERT_LE(line.size(), 78u) << size;
      // Only the pattern's characters: a line is never read from beyond it.
      ASSERT_EQ(line.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                       "0123456789.-"),
                std::string_view::npos)
          << size;
      unstuffed += line.size() + 2;
    }
    EXPECT_GE(stuffed_lines, 1u) << size;  // the first line starts with a dot, on purpose
    EXPECT_EQ(unstuffed, std::max<size_t>(size, 3)) << size;
  }
}

}  // namespace
}  // namespace portd::load
