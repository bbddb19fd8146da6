// The whole daemon in process: a Supervisor started on a thread of the test, with its workers,
// sockets and admin endpoint, driven through its thread-safe requests instead of signals.

#include "server/supervisor.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <string>
#include <thread>

#include "handlers/bind.h"
#include "handlers/builtin/builtin.h"
#include "net/address.h"

namespace portd::server {
namespace {

std::shared_ptr<const config::Config> load(const std::string& text) {
  static const handlers::Registry registry = [] {
    handlers::Registry r;
    handlers::registerBuiltins(r);
    return r;
  }();
  return handlers::loadAndBind(text, "supervisor_test.toml", registry);
}

constexpr const char* kConfig = R"toml(
[server]
workers = 2
shutdown_timeout = "10s"

[admin]
address = "127.0.0.1:0"

[[listener]]
name = "echo"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"
)toml";

// Connects, sends `message` and reads it back; "" on any failure.
std::string echo(const net::Address& to, const std::string& message) {
  int fd = ::socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string got;
  if (::connect(fd, to.sockaddr_ptr(), to.length()) == 0 &&
      ::send(fd, message.data(), message.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(message.size())) {
    char buf[256];
    while (got.size() < message.size()) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        break;
      }
      got.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return got;
}

TEST(SupervisorTest, ServesReloadsAndStopsInProcess) {
  int reads = 0;
  Supervisor supervisor(
      load(kConfig),
      [&reads] {
        ++reads;
        return load(kConfig);
      },
      Supervisor::Options{.signals = false});
  auto status = std::async(std::launch::async, [&] { return supervisor.run(); });
  ASSERT_TRUE(supervisor.waitReady());

  net::Address bound = supervisor.boundAddress("echo");
  ASSERT_NE(bound.port(), 0);
  EXPECT_NE(supervisor.boundAddress("admin").port(), 0);
  EXPECT_EQ(echo(bound, "hello"), "hello");

  supervisor.requestReload();
  for (int i = 0; i < 500 && supervisor.reloads() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(supervisor.reloads(), 1u);
  EXPECT_EQ(reads, 1);
  // The listener kept its socket: same address, still serving.
  EXPECT_EQ(supervisor.boundAddress("echo").port(), bound.port());
  EXPECT_EQ(echo(bound, "again"), "again");

  supervisor.requestStop();
  ASSERT_EQ(status.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_EQ(status.get(), 0);
}

TEST(SupervisorTest, ARefusedReloadKeepsServing) {
  Supervisor supervisor(
      load(kConfig),
      []() -> std::shared_ptr<const config::Config> { throw std::runtime_error("bad file"); },
      Supervisor::Options{.signals = false});
  auto status = std::async(std::launch::async, [&] { return supervisor.run(); });
  ASSERT_TRUE(supervisor.waitReady());
  supervisor.requestReload();
  for (int i = 0; i < 500 && supervisor.reloadFailures() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(supervisor.reloadFailures(), 1u);
  EXPECT_EQ(echo(supervisor.boundAddress("echo"), "still"), "still");
  supervisor.requestStop();
  ASSERT_EQ(status.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_EQ(status.get(), 0);
}

TEST(SupervisorTest, AnAddressInUseFailsTheStart) {
  // Someone else holds the address (without SO_REUSEPORT, as most servers bind).
  int holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  std::string error;
  auto any = *net::Address::parse("127.0.0.1:0", &error);
  ASSERT_EQ(::bind(holder, any.sockaddr_ptr(), any.length()), 0);
  ASSERT_EQ(::listen(holder, 8), 0);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(holder, reinterpret_cast<sockaddr*>(&ss), &len);
  auto taken = net::Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss));
  std::string text = std::string(kConfig);
  text.replace(text.rfind("127.0.0.1:0"), 11, taken.toString());
  Supervisor supervisor(load(text), {}, Supervisor::Options{.signals = false});
  EXPECT_EQ(supervisor.run(), 1);
  EXPECT_FALSE(supervisor.waitReady());
  ::close(holder);
}

}  // namespace
}  // namespace portd::server
