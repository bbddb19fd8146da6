// Lingering close (net/connection.h): a connection that portd closes while its peer is still
// sending reads and drops the rest of that input, so that the peer gets the answer and an
// orderly end instead of a reset; the lingering ends at the peer's close, after
// lingering_timeout of quiet, or at once when the daemon shuts down; and the common close,
// where nothing is left to read, does not linger.

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include "daemon_process.h"
#include "metrics_client.h"
#include "net_client.h"

namespace portd::itest {
namespace {

// `delayed`: the first read waits until the upload has filled the socket, so that the answer
// is made while the peer is still sending, which is what is under test.
std::string config(const std::string& lingering, bool delayed = true) {
  std::string c = R"toml(
[server]
workers = 1
shutdown_timeout = "60s"
[admin]
address = "127.0.0.1:0"
[[listener]]
name = "web"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "http"
)toml" + lingering +
                  R"toml(
[listener.options]
max_body_bytes = "64KiB"
)toml";
  if (delayed) {
    c += "[listener.faults]\naccept_delay = \"100ms\"\n";
  }
  return c;
}

double active(const Daemon& d) {
  return sample(metrics(d.admin()),
                R"(portd_connections_active{listener="web",handler="http",protocol="tcp"})");
}

// Waits until the listener has `n` connections open; false after `timeout`.
bool waitForActive(const Daemon& d, double n, Clock::duration timeout = kIoTimeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  while (active(d) != n) {
    if (Clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(5ms);  // the poll's pace: each poll is a request to the admin
  }
  return true;
}

// Everything the peer sends until it closes, and how it closed (kStillOpen: not within
// kIoTimeout).
struct Ending {
  std::string text;
  PeerClose how = PeerClose::kStillOpen;
};

Ending readToTheEnd(int fd) {
  Ending e;
  const Clock::time_point deadline = Clock::now() + kIoTimeout;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      e.text.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      e.how = PeerClose::kEof;
      return e;
    }
    if (errno == EAGAIN) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      pollfd p{fd, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) == 0) {
        return e;
      }
    } else if (errno != EINTR) {
      e.how = errno == ECONNRESET ? PeerClose::kReset : PeerClose::kError;
      return e;
    }
  }
}

// A 4 MiB upload, refused with 413 on its Content-Length once its headers are read.
std::string upload() {
  constexpr size_t kBody = 4 << 20;
  return "POST /upload HTTP/1.1\r\nHost: portd\r\nContent-Length: " + std::to_string(kBody) +
         "\r\n\r\n" + std::string(kBody, 'x');
}

// A connection that sent half of upload() and then nothing: its answer (413) and the FIN have
// come back, and the daemon's end lingers.
Fd halfUploaded(const Daemon& d) {
  Fd c = connectTcp(d.listener("web"));
  const std::string request = upload();
  EXPECT_TRUE(sendAll(c.get(), std::string_view(request).substr(0, request.size() / 2)));
  const Ending e = readToTheEnd(c.get());
  EXPECT_EQ(e.text.substr(0, 12), "HTTP/1.1 413") << e.text;
  EXPECT_EQ(e.how, PeerClose::kEof);
  return c;
}

// The way curl uploads: the whole request first, then the answer. Closing with the upload
// unread reset the connection: the send failed (EPIPE, ECONNRESET) and the 413 was lost.
TEST(LingeringCloseTest, AnUploadRefusedEarlyIsReadToItsEndAndGetsItsAnswer) {
  Daemon d;
  ASSERT_TRUE(d.start(config("")));
  Fd c = connectTcp(d.listener("web"));
  ASSERT_TRUE(c.valid());
  ASSERT_TRUE(sendAll(c.get(), upload(), kIoTimeout));
  const Ending e = readToTheEnd(c.get());
  EXPECT_EQ(e.text.substr(0, 12), "HTTP/1.1 413") << e.text;
  EXPECT_EQ(e.how, PeerClose::kEof);
  EXPECT_TRUE(d.stop());
}

// Chunked, refused once 64 KiB of body are in, whatever the size of the reads: their last may
// have emptied the socket (the reads kept up with the peer), and the peer is still sending.
TEST(LingeringCloseTest, AChunkedUploadRefusedMidwayIsReadToItsEndAndGetsItsAnswer) {
  Daemon d;
  ASSERT_TRUE(d.start(config("", false)));
  Fd c = connectTcp(d.listener("web"));
  ASSERT_TRUE(c.valid());
  std::string request =
      "POST /upload HTTP/1.1\r\nHost: portd\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 512; ++i) {
    request += "1000\r\n" + std::string(4096, 'x') + "\r\n";
  }
  request += "0\r\n\r\n";
  ASSERT_TRUE(sendAll(c.get(), request, kIoTimeout));
  const Ending e = readToTheEnd(c.get());
  EXPECT_EQ(e.text.substr(0, 12), "HTTP/1.1 413") << e.text;
  EXPECT_EQ(e.how, PeerClose::kEof);
  EXPECT_TRUE(d.stop());
}

// The head alone first, as a client on a real network often sends it: the first read finds
// only the head and empties the socket, so nothing the connection saw says that the peer is
// still sending, but the http handler knows that the body is unread (closeLingering). The body
// follows once the 413 is here; closed at once, the socket met it with a reset, and the sends
// failed.
TEST(LingeringCloseTest, AnUploadRefusedAtAHeadThatCameAloneGetsItsAnswer) {
  Daemon d;
  ASSERT_TRUE(d.start(config("", false)));
  Fd c = connectTcp(d.listener("web"));
  ASSERT_TRUE(c.valid());
  const std::string request = upload();
  const size_t head = request.find("\r\n\r\n") + 4;
  ASSERT_TRUE(sendAll(c.get(), std::string_view(request).substr(0, head)));
  ASSERT_TRUE(waitReadable(c.get()));  // the 413: the server has closed its end
  EXPECT_TRUE(sendAll(c.get(), std::string_view(request).substr(head)));
  const Ending e = readToTheEnd(c.get());
  EXPECT_EQ(e.text.substr(0, 12), "HTTP/1.1 413") << e.text;
  EXPECT_EQ(e.how, PeerClose::kEof);
  EXPECT_TRUE(d.stop());
}

TEST(LingeringCloseTest, APeerThatStopsSendingIsClosedAfterTheLingeringTimeout) {
  Daemon d;
  ASSERT_TRUE(d.start(config("lingering_timeout = \"1s\"\n")));
  Fd c = halfUploaded(d);
  const Clock::time_point answered = Clock::now();
  EXPECT_EQ(active(d), 1);
  // Closed after a second of quiet, counted from the last input it dropped, which came before
  // the answer arrived here.
  ASSERT_TRUE(waitForActive(d, 0, 20s));
  EXPECT_LT(Clock::now() - answered, 10s);
  EXPECT_TRUE(d.stop());
}

TEST(LingeringCloseTest, LingeringEndsWhenThePeerCloses) {
  Daemon d;
  ASSERT_TRUE(d.start(config("lingering_timeout = \"30s\"\n")));
  Fd c = halfUploaded(d);
  EXPECT_EQ(active(d), 1);
  ::shutdown(c.get(), SHUT_WR);
  // Long before the 30 s of its lingering_timeout.
  EXPECT_TRUE(waitForActive(d, 0));
  EXPECT_TRUE(d.stop());
}

TEST(LingeringCloseTest, AShutdownDoesNotWaitForALingeringConnection) {
  Daemon d;
  ASSERT_TRUE(d.start(config("lingering_timeout = \"30s\"\n")));
  Fd c = halfUploaded(d);
  ASSERT_EQ(active(d), 1);
  // The drain closes it: the daemon ends well within kIoTimeout, not after the 30 s of
  // lingering or the 60 s of shutdown_timeout.
  const Clock::time_point start = Clock::now();
  EXPECT_TRUE(d.stop());
  EXPECT_LT(Clock::now() - start, kIoTimeout);
}

TEST(LingeringCloseTest, AnAnsweredRequestThatLeftNothingUnreadClosesAtOnce) {
  Daemon d;
  ASSERT_TRUE(d.start(config("lingering_timeout = \"30s\"\n")));
  Fd c = connectTcp(d.listener("web"));
  ASSERT_TRUE(c.valid());
  ASSERT_TRUE(sendAll(c.get(), "GET /echo HTTP/1.1\r\nHost: portd\r\nConnection: close\r\n\r\n"));
  const Ending e = readToTheEnd(c.get());
  EXPECT_EQ(e.text.substr(0, 12), "HTTP/1.1 200") << e.text;
  EXPECT_EQ(e.how, PeerClose::kEof);
  // The client has not closed: a lingering connection would stay open for 30 s.
  EXPECT_TRUE(waitForActive(d, 0));
  EXPECT_TRUE(d.stop());
}

TEST(LingeringCloseTest, ZeroTurnsLingeringOff) {
  Daemon d;
  ASSERT_TRUE(d.start(config("lingering_timeout = \"0s\"\n")));
  Fd c = connectTcp(d.listener("web"));
  ASSERT_TRUE(c.valid());
  const std::string request = upload();
  // Closed with the upload unread, the send may fail: what the peer sees is not the subject.
  (void)sendAll(c.get(), std::string_view(request).substr(0, request.size() / 2));
  readToTheEnd(c.get());
  // Closed at once, while the peer holds its end open: not after the default 5 s.
  EXPECT_TRUE(waitForActive(d, 0, 2s));
  EXPECT_TRUE(d.stop());
}

}  // namespace
}  // namespace portd::itest
