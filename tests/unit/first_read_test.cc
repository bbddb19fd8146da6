// A new connection is read before it is registered while most first reads find the request
// (as with TCP_DEFER_ACCEPT, without asking the kernel to hold connections back): a request
// answered with "Connection: close" then never costs a registration. Clients that connect and
// wait teach the listener to register first again.

#include <gtest/gtest.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "listener_fixture.h"

using namespace portd;

namespace {

const std::string kClosingRequest = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

class FirstReadTest : public test::ListenerTest {
 protected:
  void SetUp() override {
    ListenerTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(listen("http"));
  }

  // Sends the request without running the loop: it is there before the server looks. (A
  // loopback connect() completes inside the call; the retries are for safety only.)
  void sendNow(int fd) {
    for (int i = 0; i < 1000; ++i) {
      if (::send(fd, kClosingRequest.data(), kClosingRequest.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(kClosingRequest.size())) {
        return;
      }
      ::usleep(100);
    }
    FAIL() << "could not send";
  }

  // Reads until the server closes; the whole answer.
  std::string readToEnd(int fd) {
    std::string out;
    char buf[4096];
    EXPECT_TRUE(runUntil([&] {
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
        out.append(buf, static_cast<size_t>(n));
      }
      return n == 0;
    }));
    return out;
  }

  uint64_t registrations() { return ctx_->poller().registrations(); }
};

TEST_F(FirstReadTest, ARequestThereAtTheAcceptIsAnsweredWithoutARegistration) {
  ASSERT_TRUE(listener_->readsFirst());
  const uint64_t before = registrations();
  for (int i = 0; i < 5; ++i) {
    // Connected and sent before the loop runs: the request is in when the accept comes.
    int fd = connectClient();
    ASSERT_NO_FATAL_FAILURE(sendNow(fd));
    EXPECT_EQ(readToEnd(fd).rfind("HTTP/1.1 ", 0), 0u);
  }
  EXPECT_EQ(registrations(), before);
  EXPECT_TRUE(listener_->readsFirst());
}

TEST_F(FirstReadTest, ClientsThatWaitAreRegisteredAndServedAndTurnTheGuessOff) {
  const uint64_t before = registrations();
  int quiet = connectClient();
  ASSERT_TRUE(runUntil([&] { return listener_->connectionCount() == 1; }));
  // Its first read found nothing: it is registered, and the listener stops guessing.
  EXPECT_EQ(registrations(), before + 1);
  EXPECT_FALSE(listener_->readsFirst());
  // Its request, sent later, is announced and answered as usual.
  ASSERT_EQ(::send(quiet, kClosingRequest.data(), kClosingRequest.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(kClosingRequest.size()));
  EXPECT_EQ(readToEnd(quiet).rfind("HTTP/1.1 ", 0), 0u);

  // Clients whose requests are there at the accept: registered first now, until a probe (one
  // connection in 32) finds its request at once and turns reading first back on.
  int served = 0;
  while (!listener_->readsFirst() && served < 40) {
    int fd = connectClient();
    ASSERT_NO_FATAL_FAILURE(sendNow(fd));
    EXPECT_EQ(readToEnd(fd).rfind("HTTP/1.1 ", 0), 0u);
    ++served;
  }
  EXPECT_TRUE(listener_->readsFirst());
  EXPECT_LE(served, 32);
  // The quiet client's registration, and one for each connection served before the probe.
  EXPECT_EQ(registrations(), before + 1 + static_cast<uint64_t>(served - 1));
}

}  // namespace
