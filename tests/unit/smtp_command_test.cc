// The smtp handler's command line parser and DATA reader, on plain strings: the reader split at
// every byte, since a body arrives in reads of any size.

#include <gtest/gtest.h>

#include <string>

#include "handlers/smtp/command.h"
#include "handlers/smtp/dot_reader.h"

namespace portd::handlers::smtp {
namespace {

TEST(SmtpCommandTest, VerbsAreCaseInsensitive) {
  EXPECT_EQ(parseCommand("EHLO client.example").verb, Verb::kEhlo);
  EXPECT_EQ(parseCommand("ehlo client.example").arg, "client.example");
  EXPECT_EQ(parseCommand("MaIl FROM:<a@b>").verb, Verb::kMail);
  EXPECT_EQ(parseCommand("MaIl FROM:<a@b>").arg, "FROM:<a@b>");
  EXPECT_EQ(parseCommand("rcpt TO:<a@b>").verb, Verb::kRcpt);
  EXPECT_EQ(parseCommand("data").verb, Verb::kData);
  EXPECT_EQ(parseCommand("data").arg, "");
  EXPECT_EQ(parseCommand("Bdat 10 LAST").verb, Verb::kBdat);
  EXPECT_EQ(parseCommand("quit").verb, Verb::kQuit);
  EXPECT_EQ(parseCommand("rset").verb, Verb::kRset);
  EXPECT_EQ(parseCommand("noop anything").verb, Verb::kNoop);
  EXPECT_EQ(parseCommand("VRFY root").verb, Verb::kVrfy);
  EXPECT_EQ(parseCommand("help").verb, Verb::kHelp);
  EXPECT_EQ(parseCommand("EXPN list").verb, Verb::kExpn);
  EXPECT_EQ(parseCommand("").verb, Verb::kUnknown);
  EXPECT_EQ(parseCommand("EHLOX a").verb, Verb::kUnknown);
  EXPECT_EQ(parseCommand("STARTTLS").verb, Verb::kUnknown);
  EXPECT_EQ(parseCommand(" EHLO a").verb, Verb::kUnknown);
}

TEST(SmtpCommandTest, MailFromWithParameters) {
  MailFrom m;
  ASSERT_EQ(parseMailFrom("FROM:<a@b.example>", &m), ArgError::kOk);
  EXPECT_EQ(m.path, "<a@b.example>");
  EXPECT_FALSE(m.has_size);

  ASSERT_EQ(parseMailFrom("from:<> SIZE=1234 BODY=8BITMIME SMTPUTF8", &m), ArgError::kOk);
  EXPECT_EQ(m.path, "<>");
  EXPECT_TRUE(m.has_size);
  EXPECT_EQ(m.size, 1234u);
  EXPECT_EQ(m.body, BodyType::k8BitMime);
  EXPECT_TRUE(m.smtputf8);

  ASSERT_EQ(parseMailFrom("FROM: <a@b> body=7bit", &m), ArgError::kOk);  // a space after ':'
  EXPECT_EQ(m.body, BodyType::k7Bit);
  ASSERT_EQ(parseMailFrom("FROM:<\"a b>c\"@d>", &m), ArgError::kOk);  // a quoted local part
  EXPECT_EQ(m.path, "<\"a b>c\"@d>");
  ASSERT_EQ(parseMailFrom("FROM:<@relay.example:a@b>", &m), ArgError::kOk);  // a source route
  ASSERT_EQ(parseMailFrom("FROM:<d\xC3\xA9j\xC3\xA0@b> SMTPUTF8", &m), ArgError::kOk);
}

TEST(SmtpCommandTest, MailFromErrors) {
  MailFrom m;
  EXPECT_EQ(parseMailFrom("", &m), ArgError::kSyntax);
  EXPECT_EQ(parseMailFrom("TO:<a@b>", &m), ArgError::kSyntax);
  EXPECT_EQ(parseMailFrom("FROM <a@b>", &m), ArgError::kSyntax);
  EXPECT_EQ(parseMailFrom("FROM:a@b", &m), ArgError::kBadPath);
  EXPECT_EQ(parseMailFrom("FROM:<a b@c>", &m), ArgError::kBadPath);
  EXPECT_EQ(parseMailFrom("FROM:<a@b", &m), ArgError::kBadPath);
  EXPECT_EQ(parseMailFrom("FROM:<a<b>", &m), ArgError::kBadPath);
  EXPECT_EQ(parseMailFrom("FROM:<a\tb>", &m), ArgError::kBadPath);
  EXPECT_EQ(parseMailFrom("FROM:<" + std::string(300, 'a') + ">", &m), ArgError::kBadPath);
  EXPECT_EQ(parseMailFrom("FROM:<a@b>x", &m), ArgError::kSyntax);
  EXPECT_EQ(parseMailFrom("FROM:<a@b> SIZE=", &m), ArgError::kBadParamValue);
  EXPECT_EQ(parseMailFrom("FROM:<a@b> SIZE=12x", &m), ArgError::kBadParamValue);
  EXPECT_EQ(parseMailFrom("FROM:<a@b> SIZE=-1", &m), ArgError::kBadParamValue);
  EXPECT_EQ(parseMailFrom("FROM:<a@b> SIZE=99999999999999999999999", &m), ArgError::kBadParamValue);
  EXPECT_EQ(parseMailFrom("FROM:<a@b> SIZE=1 SIZE=2", &m), ArgError::kBadParamValue);
  EXPECT_EQ(parseMailFrom("FROM:<a@b> BODY=BINARYMIME", &m), ArgError::kBadParamValue);
  EXPECT_EQ(parseMailFrom("FROM:<a@b> SMTPUTF8=yes", &m), ArgError::kBadParamValue);
  EXPECT_EQ(parseMailFrom("FROM:<a@b> AUTH=<>", &m), ArgError::kUnknownParam);
}

TEST(SmtpCommandTest, RcptTo) {
  std::string_view path;
  ASSERT_EQ(parseRcptTo("TO:<user@example.org>", &path), ArgError::kOk);
  EXPECT_EQ(path, "<user@example.org>");
  EXPECT_EQ(parseRcptTo("to:<postmaster>", &path), ArgError::kOk);
  EXPECT_EQ(parseRcptTo("TO: <a@b>  ", &path), ArgError::kOk);
  EXPECT_EQ(parseRcptTo("TO:<>", &path), ArgError::kBadPath);
  EXPECT_EQ(parseRcptTo("TO:a@b", &path), ArgError::kBadPath);
  EXPECT_EQ(parseRcptTo("FROM:<a@b>", &path), ArgError::kSyntax);
  EXPECT_EQ(parseRcptTo("TO:<a@b> NOTIFY=NEVER", &path), ArgError::kUnknownParam);
}

TEST(SmtpCommandTest, Bdat) {
  Bdat b;
  ASSERT_TRUE(parseBdat("10", &b));
  EXPECT_EQ(b.size, 10u);
  EXPECT_FALSE(b.last);
  ASSERT_TRUE(parseBdat("0 last", &b));
  EXPECT_EQ(b.size, 0u);
  EXPECT_TRUE(b.last);
  EXPECT_FALSE(parseBdat("", &b));
  EXPECT_FALSE(parseBdat("x", &b));
  EXPECT_FALSE(parseBdat("10 MORE", &b));
  EXPECT_FALSE(parseBdat("10 LAST x", &b));
  EXPECT_FALSE(parseBdat("-1", &b));
  EXPECT_FALSE(parseBdat("99999999999999999999999", &b));
}

struct DotCase {
  std::string wire;
  std::string body;
  size_t consumed;  // npos: the end is not in the input
};

// Feeds `wire` in two pieces split at `at`, and then byte by byte.
void checkSplits(const DotCase& c) {
  for (size_t at = 0; at <= c.wire.size(); ++at) {
    DotReader r;
    std::string body;
    auto sink = [&](std::string_view b) { body.append(b); };
    size_t used = r.feed(std::string_view(c.wire).substr(0, at), sink);
    if (!r.done()) {
      ASSERT_EQ(used, at);
      used += r.feed(std::string_view(c.wire).substr(at), sink);
    }
    EXPECT_EQ(body, c.body) << "split at " << at << " of " << testing::PrintToString(c.wire);
    EXPECT_EQ(r.done() ? used : std::string::npos, c.consumed) << "split at " << at;
  }
  DotReader r;
  std::string body;
  size_t used = 0;
  for (size_t i = 0; i < c.wire.size() && !r.done(); ++i) {
    used += r.feed(std::string_view(c.wire).substr(i, 1), [&](std::string_view b) { body += b; });
  }
  EXPECT_EQ(body, c.body) << "byte by byte: " << testing::PrintToString(c.wire);
  EXPECT_EQ(r.done() ? used : std::string::npos, c.consumed);
}

TEST(SmtpDotReaderTest, UnstuffsAndEndsAtEveryBytePosition) {
  const DotCase cases[] = {
      {".\r\n", "", 3},
      {"a\r\n.\r\n", "a\r\n", 6},
      {"\r\n.\r\n", "\r\n", 5},
      {"..a\r\n.\r\n", ".a\r\n", 8},
      {"...\r\n.\r\n", "..\r\n", 8},
      {"a\r\n..\r\n.\r\n", "a\r\n.\r\n", 10},
      {".\ra\r\n.\r\n", "\ra\r\n", 8},
      {".\r\r\n.\r\n", "\r\r\n", 7},
      {"x\n.\r\n\r\n.\r\n", "x\n.\r\n\r\n", 10},  // a bare LF ends no line
      {"a\r\n.\r\nQUIT\r\n", "a\r\n", 6},         // what follows is left alone
      {"a.\r\n.\r\n", "a.\r\n", 7},
      {"a\r\n.", "a\r\n", std::string::npos},
      {"a\r\n.\r", "a\r\n", std::string::npos},
      {"a\r\n.x", "a\r\nx", std::string::npos},
      {std::string("\x00\xff\r\n.\r\n", 7), std::string("\x00\xff\r\n", 4), 7},
  };
  for (const DotCase& c : cases) {
    checkSplits(c);
  }
}

TEST(SmtpDotReaderTest, ResetStartsANewBody) {
  DotReader r;
  std::string body;
  auto sink = [&](std::string_view b) { body.append(b); };
  EXPECT_EQ(r.feed("one\r\n.\r\n", sink), 8u);
  ASSERT_TRUE(r.done());
  r.reset();
  body.clear();
  EXPECT_EQ(r.feed(".two\r\n.\r\n", sink), 9u);
  EXPECT_EQ(body, "two\r\n");
}

}  // namespace
}  // namespace portd::handlers::smtp
