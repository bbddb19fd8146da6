// portd probe: the health check of images without a shell. Tested against a one-shot HTTP
// server in the test, so that the status it answers is the test's choice.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "daemon_process.h"

namespace portd::itest {
namespace {

// Listens on 127.0.0.1 port 0 and answers one connection with `response` once it has read a
// whole request head.
class OneShotServer {
 public:
  explicit OneShotServer(std::string response) : response_(std::move(response)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 1);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string got;
      char buf[1024];
      while (got.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, static_cast<size_t>(n));
      }
      request_ = got;
      ::send(c, response_.data(), response_.size(), MSG_NOSIGNAL);
      ::close(c);
    });
  }
  ~OneShotServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::string request() {
    thread_.join();
    thread_ = std::thread([] {});
    return request_;
  }

 private:
  std::string response_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::string request_;
  std::thread thread_;
};

TEST(ProbeTest, A2xxStatusExitsZeroAndSendsAGet) {
  OneShotServer server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  CommandResult r = runPortd({"probe", server.url("/healthz")});
  EXPECT_EQ(r.status, ExitStatus::exited(0)) << r.err;
  EXPECT_NE(r.out.find("HTTP/1.1 200 OK"), std::string::npos) << r.out;
  EXPECT_TRUE(server.request().starts_with("GET /healthz HTTP/1.1\r\n"));
}

TEST(ProbeTest, AnotherStatusExitsOne) {
  OneShotServer server("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
  CommandResult r = runPortd({"probe", server.url("/readyz")});
  EXPECT_EQ(r.status, ExitStatus::exited(1));
  EXPECT_NE(r.err.find("503"), std::string::npos) << r.err;
}

TEST(ProbeTest, NotHttpExitsOne) {
  OneShotServer server("SSH-2.0-nope\r\n");
  CommandResult r = runPortd({"probe", server.url("/")});
  EXPECT_EQ(r.status, ExitStatus::exited(1));
  EXPECT_NE(r.err.find("not an HTTP response"), std::string::npos) << r.err;
}

TEST(ProbeTest, RefusedAndBadUrlsExitOneWithAReason) {
  // A port just closed: nothing listens there.
  uint16_t port;
  {
    OneShotServer s("");
    port = static_cast<uint16_t>(std::stoi(s.url("").substr(17)));
    runPortd({"probe", s.url("/")});
  }
  CommandResult refused = runPortd({"probe", "http://127.0.0.1:" + std::to_string(port) + "/"});
  EXPECT_EQ(refused.status, ExitStatus::exited(1));
  EXPECT_NE(refused.err.find("refused"), std::string::npos) << refused.err;

  CommandResult https = runPortd({"probe", "https://127.0.0.1:1/"});
  EXPECT_EQ(https.status, ExitStatus::exited(1));
  EXPECT_NE(https.err.find("only http://"), std::string::npos) << https.err;

  CommandResult name = runPortd({"probe", "http://localhost:80/"});
  EXPECT_EQ(name.status, ExitStatus::exited(1));
  EXPECT_NE(name.err.find("literal address"), std::string::npos) << name.err;
}

}  // namespace
}  // namespace portd::itest
