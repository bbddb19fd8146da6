// SIGHUP: a valid file is applied without dropping a connection or a datagram; an invalid one
// changes nothing.

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>

#include "daemon_process.h"
#include "net_client.h"

namespace portd::itest {
namespace {

std::string listener(const std::string& name, const std::string& protocol,
                     const std::string& handler, const std::string& extra = "",
                     const std::string& address = "127.0.0.1:0") {
  return "[[listener]]\nname = \"" + name + "\"\nprotocol = \"" + protocol + "\"\naddress = \"" +
         address + "\"\nhandler = \"" + handler + "\"\n" + extra + "\n";
}

std::string server(int workers, const std::string& level = "info") {
  return "[server]\nworkers = " + std::to_string(workers) +
         "\nshutdown_timeout = \"5s\"\n[log]\nlevel = \"" + level + "\"\n";
}

TEST(ReloadTest, AddsAndRemovesListenersWhileOpenConnectionsFinish) {
  Daemon d;
  ASSERT_TRUE(d.start(server(2) + listener("a", "tcp", "echo")));
  Endpoint a = d.listener("a");
  Fd old = connectTcp(a);
  ASSERT_TRUE(old.valid());
  ASSERT_TRUE(echoRoundTrip(old.get(), "before"));

  d.rewriteConfig(server(2) + listener("b", "tcp", "echo") + listener("c", "udp", "echo"));
  ASSERT_TRUE(d.reload(1));
  // The new listeners serve.
  Fd b = connectTcp(d.listener("b"));
  ASSERT_TRUE(b.valid());
  EXPECT_TRUE(echoRoundTrip(b.get(), "new listener"));
  Fd u = bindUdp(Endpoint::loopback(AF_INET));
  ASSERT_TRUE(sendDatagram(u.get(), d.listener("c"), "new udp"));
  EXPECT_EQ(receiveDatagram(u.get()), "new udp");
  // The removed one no longer accepts, but its open connection goes on.
  EXPECT_TRUE(waitUntilRefused(a));
  EXPECT_TRUE(echoRoundTrip(old.get(), "after the reload"));
  old.reset();
  b.reset();
  EXPECT_TRUE(d.stop());
}

TEST(ReloadTest, AChangedListenerKeepsItsPortAndOldConnectionsKeepTheirSettings) {
  Daemon d;
  ASSERT_TRUE(d.start(server(2) + listener("a", "tcp", "echo", "idle_timeout = \"1h\"")));
  Endpoint a = d.listener("a");
  Fd old = connectTcp(a);
  ASSERT_TRUE(echoRoundTrip(old.get(), "old"));

  d.rewriteConfig(server(2) + listener("a", "tcp", "echo", "idle_timeout = \"200ms\""));
  ASSERT_TRUE(d.reload(1));
  EXPECT_EQ(d.listener("a").toString(), a.toString()) << "port 0 stays the port it was given";
  Fd fresh = connectTcp(a);
  ASSERT_TRUE(echoRoundTrip(fresh.get(), "new"));
  // The new connection has the new idle timeout...
  EXPECT_EQ(waitForClose(fresh.get()), PeerClose::kEof);
  // ...the old one the old: it is still open after the new one timed out.
  EXPECT_TRUE(echoRoundTrip(old.get(), "still here"));
  old.reset();
  EXPECT_TRUE(d.stop());
}

TEST(ReloadTest, AnInvalidFileChangesNothing) {
  Daemon d;
  ASSERT_TRUE(d.start(server(2) + listener("a", "tcp", "echo")));
  Endpoint a = d.listener("a");
  d.rewriteConfig(server(2) + listener("a", "tcp", "nope"));
  ASSERT_TRUE(d.reload(1));
  EXPECT_NE(d.log().find("reload refused, the previous configuration keeps serving: "),
            std::string::npos);
  EXPECT_NE(d.log().find(":10:11: listener[0].handler: unknown handler \"nope\""),
            std::string::npos)
      << d.log();
  Fd c = connectTcp(a);
  ASSERT_TRUE(c.valid());
  EXPECT_TRUE(echoRoundTrip(c.get(), "still echo"));

  // A file that parses but cannot be bound is refused as well, and rolls back what it bound.
  Fd squatter = listenTcp(Endpoint::loopback(AF_INET));
  std::string taken = Endpoint::local(squatter.get()).toString();
  d.rewriteConfig(server(2) + listener("a", "tcp", "echo") +
                  listener("b", "tcp", "echo", "", "127.0.0.1:0") +
                  listener("c", "tcp", "echo", "", taken));
  ASSERT_TRUE(d.reload(2));
  EXPECT_EQ(countOccurrences(d.log(), "reload refused"), 2u) << d.log();
  EXPECT_TRUE(echoRoundTrip(c.get(), "and still"));
  c.reset();
  EXPECT_TRUE(d.stop());
}

TEST(ReloadTest, WorkersAndLogLevelChange) {
  Daemon d;
  ASSERT_TRUE(d.start(server(2) + listener("a", "tcp", "echo")));
  d.rewriteConfig(server(1, "debug") + listener("a", "tcp", "echo"));
  ASSERT_TRUE(d.reload(1));
  EXPECT_NE(d.log().find("configuration reloaded from "), std::string::npos);
  EXPECT_NE(d.log().find(": 1 workers, 1 listeners"), std::string::npos) << d.log();
  for (int i = 0; i < 4; ++i) {
    Fd c = connectTcp(d.listener("a"));
    ASSERT_TRUE(echoRoundTrip(c.get(), "one worker"));
  }
  // Debug lines appear now, from the one worker left.
  EXPECT_TRUE(d.waitForLog("accepted a connection from", 4));
  d.rewriteConfig(server(3) + listener("a", "tcp", "echo"));
  ASSERT_TRUE(d.reload(2));
  EXPECT_NE(d.log().find(": 3 workers, 1 listeners"), std::string::npos) << d.log();
  for (int i = 0; i < 8; ++i) {
    Fd c = connectTcp(d.listener("a"));
    ASSERT_TRUE(echoRoundTrip(c.get(), "three workers"));
  }
  EXPECT_TRUE(d.stop());
}

// Traffic runs during 20 reloads, over TCP (new and long-lived connections) and UDP: every
// request gets its answer.
TEST(ReloadTest, TrafficDuringTwentyReloadsSeesNoError) {
  Daemon d;
  std::string base = listener("t", "tcp", "echo") + listener("u", "udp", "echo");
  ASSERT_TRUE(d.start(server(2) + base));
  Endpoint t = d.listener("t");
  Endpoint u = d.listener("u");
  std::atomic<bool> stop{false};
  std::atomic<int> tcp_ok{0}, udp_ok{0}, errors{0};
  std::string first_error;
  std::thread tcp([&] {
    Fd longlived = connectTcp(t);
    for (int i = 0; !stop; ++i) {
      Fd c = connectTcp(t);
      std::string m = "tcp " + std::to_string(i);
      if (c.valid() && echoRoundTrip(c.get(), m) && echoRoundTrip(longlived.get(), m)) {
        ++tcp_ok;
      } else if (++errors == 1) {
        first_error = "tcp round trip " + std::to_string(i);
      }
    }
  });
  std::thread udp([&] {
    Fd s = bindUdp(Endpoint::loopback(AF_INET));
    for (int i = 0; !stop; ++i) {
      std::string m = "udp " + std::to_string(i);
      if (sendDatagram(s.get(), u, m) && receiveDatagram(s.get()) == m) {
        ++udp_ok;
      } else if (++errors == 1) {
        first_error = "udp round trip " + std::to_string(i);
      }
    }
  });
  // Each reload happens while both kinds of traffic are flowing: wait for progress on both.
  auto progress = [&](int tcp_before, int udp_before) {
    auto deadline = Clock::now() + kIoTimeout;
    while ((tcp_ok <= tcp_before || udp_ok <= udp_before) && errors == 0 &&
           Clock::now() < deadline) {
      std::this_thread::yield();
    }
  };
  for (int r = 1; r <= 20; ++r) {
    progress(tcp_ok, udp_ok);
    // Change the worker count (every listener object is made again) every other reload, and
    // in between reload an unchanged file (every listener object goes on).
    d.rewriteConfig(server(r % 4 == 1 ? 3 : 2) + base);
    ASSERT_TRUE(d.reload(static_cast<size_t>(r)));
  }
  progress(tcp_ok, udp_ok);
  stop = true;
  tcp.join();
  udp.join();
  EXPECT_EQ(errors.load(), 0) << first_error << "\n" << d.log();
  EXPECT_EQ(countOccurrences(d.log(), "configuration reloaded from"), 20u);
  EXPECT_EQ(countOccurrences(d.log(), "unchanged listeners keep their handler instances: t, u"),
            10u)
      << d.log();
  EXPECT_GT(tcp_ok.load(), 0);
  EXPECT_GT(udp_ok.load(), 0);
  EXPECT_TRUE(d.stop());
}

// A hundred reloads under TCP and UDP traffic, every other one with an invalid file: the
// refused ones change nothing, the others apply, and no round trip fails.
TEST(ReloadTest, HundredReloadsUnderTrafficHalfOfThemInvalid) {
  Daemon d;
  std::string base = listener("t", "tcp", "echo") + listener("u", "udp", "echo");
  ASSERT_TRUE(d.start(server(2) + base));
  Endpoint t = d.listener("t");
  Endpoint u = d.listener("u");
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, errors{0};
  std::thread tcp([&] {
    Fd longlived = connectTcp(t);
    for (int i = 0; !stop; ++i) {
      Fd c = connectTcp(t);
      std::string m = "tcp " + std::to_string(i);
      bool good = c.valid() && echoRoundTrip(c.get(), m) && echoRoundTrip(longlived.get(), m);
      good ? ++ok : ++errors;
    }
  });
  std::thread udp([&] {
    Fd s = bindUdp(Endpoint::loopback(AF_INET));
    for (int i = 0; !stop; ++i) {
      std::string m = "udp " + std::to_string(i);
      bool good = sendDatagram(s.get(), u, m) && receiveDatagram(s.get()) == m;
      good ? ++ok : ++errors;
    }
  });
  for (int r = 1; r <= 100; ++r) {
    const int before = ok;
    const auto deadline = Clock::now() + kIoTimeout;
    while (ok <= before && errors == 0 && Clock::now() < deadline) {
      std::this_thread::yield();
    }
    if (r % 2 == 0) {
      d.rewriteConfig(server(2) + base + "[[listener]]\nname = \"broken\"\nprotocol = \"sctp\"\n");
    } else {
      d.rewriteConfig(server(r % 4 == 1 ? 3 : 2) + base);
    }
    ASSERT_TRUE(d.reload(static_cast<size_t>(r))) << d.log();
  }
  stop = true;
  tcp.join();
  udp.join();
  EXPECT_EQ(errors.load(), 0) << d.log();
  EXPECT_EQ(countOccurrences(d.log(), "configuration reloaded from"), 50u);
  EXPECT_EQ(countOccurrences(d.log(), "reload refused"), 50u);
  EXPECT_GT(ok.load(), 100);
  EXPECT_TRUE(d.stop());
}

// The answer to "GET /" on a new connection, head and body.
std::string get(const Endpoint& to) {
  Fd c = connectTcp(to);
  if (!c.valid() || !sendAll(c.get(), "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")) {
    return "(cannot send)";
  }
  return readExactly(c.get(), 64 * 1024);  // until the server closes
}

// An unchanged listener keeps its listener objects (and handler instances) on every worker,
// while a listener whose options name a file is configured again, so that a reload still
// reads a changed file.
TEST(ReloadTest, UnchangedListenersKeepTheirObjectsAndNamedFilesAreReadAgain) {
  TempFile body("first body\n", ".txt");
  Daemon d;
  ASSERT_TRUE(d.start(
      server(2, "debug") + listener("e", "tcp", "echo") +
      listener("web", "tcp", "http",
               "[[listener.options.route]]\npath = \"/\"\nbody_file = \"" + body.path() + "\"\n")));
  EXPECT_NE(get(d.listener("web")).find("first body"), std::string::npos) << d.log();
  Fd open = connectTcp(d.listener("e"));
  ASSERT_TRUE(echoRoundTrip(open.get(), "before"));

  std::ofstream(body.path(), std::ios::trunc) << "second body\n";
  ASSERT_TRUE(d.reload(1));
  // Both workers keep the echo listener's objects.
  ASSERT_TRUE(d.waitForLog("listener \"e\" is unchanged: its handler instances go on", 2))
      << d.log();
  EXPECT_EQ(d.countLogLines("listener \"web\" is unchanged"), 0u) << d.log();
  EXPECT_NE(d.log().find(": 2 workers, 2 listeners, 1 unchanged"), std::string::npos) << d.log();
  // Logged right after the line reload() waits for: it may not have been read yet.
  EXPECT_TRUE(d.waitForLog("unchanged listeners keep their handler instances: e\n", 1)) << d.log();
  EXPECT_NE(get(d.listener("web")).find("second body"), std::string::npos) << d.log();
  EXPECT_TRUE(echoRoundTrip(open.get(), "after"));
  for (int i = 0; i < 4; ++i) {
    Fd c = connectTcp(d.listener("e"));
    EXPECT_TRUE(echoRoundTrip(c.get(), "new " + std::to_string(i)));
  }
  open.reset();
  EXPECT_TRUE(d.stop()) << d.log();
}

}  // namespace
}  // namespace portd::itest

namespace portd::itest {
namespace {

// Renaming a listener keeps its sockets: a connection waiting in the old socket's backlog is
// served after the reload instead of being reset when the old socket closes.
TEST(ReloadTest, ARenamedListenerKeepsItsSockets) {
  Daemon d;
  uint16_t port = freePort(SOCK_STREAM, AF_INET);
  std::string address = "127.0.0.1:" + std::to_string(port);
  ASSERT_TRUE(d.start(server(2) + listener("old-name", "tcp", "echo", "", address)));
  Fd before = connectTcp(d.listener("old-name"));
  ASSERT_TRUE(echoRoundTrip(before.get(), "before"));
  d.rewriteConfig(server(2) + listener("new-name", "tcp", "echo", "", address));
  ASSERT_TRUE(d.reload(1));
  EXPECT_EQ(d.listener("new-name").toString(), address);
  for (int i = 0; i < 8; ++i) {
    Fd c = connectTcp(d.listener("new-name"));
    ASSERT_TRUE(c.valid());
    EXPECT_TRUE(echoRoundTrip(c.get(), "renamed " + std::to_string(i)));
  }
  EXPECT_TRUE(echoRoundTrip(before.get(), "still"));
  before.reset();
  // A reload refused while binding (after the sockets were taken over for a rename) gives them
  // back under the name they have now, and the next reload finds them there.
  Fd squatter = listenTcp(Endpoint::loopback(AF_INET));
  d.rewriteConfig(server(2) + listener("third", "tcp", "echo", "", address) +
                  listener("y", "tcp", "echo", "", Endpoint::local(squatter.get()).toString()));
  ASSERT_TRUE(d.reload(2));
  EXPECT_EQ(countOccurrences(d.log(), "reload refused"), 1u) << d.log();
  Fd after = connectTcp(d.listener("new-name"));
  EXPECT_TRUE(echoRoundTrip(after.get(), "after a refused reload"));
  d.rewriteConfig(server(3) + listener("new-name", "tcp", "echo", "", address));
  ASSERT_TRUE(d.reload(3));
  EXPECT_EQ(countOccurrences(d.log(), "configuration reloaded from"), 2u) << d.log();
  EXPECT_TRUE(echoRoundTrip(after.get(), "and after the next one"));
  after.reset();
  EXPECT_TRUE(d.stop());
}

}  // namespace
}  // namespace portd::itest
