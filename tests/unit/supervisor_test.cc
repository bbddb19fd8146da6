// The whole daemon in process: a Supervisor started on a thread of the test, with its workers,
// sockets and admin endpoint, driven through its thread-safe requests instead of signals.

#include "server/supervisor.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "handlers/bind.h"
#include "handlers/builtin/builtin.h"
#include "handlers/handler.h"
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

// What the "probe" handler saw: every configuration it made, which thread released it, and
// which configuration each instance was made from.
struct Probe {
  std::mutex mutex;
  struct Made {
    std::string tag;
    bool released = false;
    std::thread::id released_on;
  };
  std::vector<Made> configs;      // by serial number
  std::vector<int> instances_of;  // the serial number of each instance's configuration

  size_t instancesOf(int serial) {
    std::lock_guard lock(mutex);
    return static_cast<size_t>(std::count(instances_of.begin(), instances_of.end(), serial));
  }
  bool released(int serial) {
    std::lock_guard lock(mutex);
    return configs.at(static_cast<size_t>(serial)).released;
  }
};

class ProbeConfig final : public net::HandlerConfig {
 public:
  ProbeConfig(Probe& probe, int serial) : probe_(probe), serial_(serial) {}
  ~ProbeConfig() override {
    std::lock_guard lock(probe_.mutex);
    probe_.configs[static_cast<size_t>(serial_)].released = true;
    probe_.configs[static_cast<size_t>(serial_)].released_on = std::this_thread::get_id();
  }
  std::unique_ptr<net::Handler> createInstance(const net::InstanceContext&) const override {
    struct Silent final : net::Handler {
      void onData(net::Connection&, std::string_view) override {}
    };
    std::lock_guard lock(probe_.mutex);
    probe_.instances_of.push_back(serial_);
    return std::make_unique<Silent>();
  }

 private:
  Probe& probe_;
  int serial_;
};

class ProbeFactory final : public handlers::HandlerFactory {
 public:
  explicit ProbeFactory(Probe& probe) : probe_(probe) {
    descriptor_ = {
        "probe",
        "test",
        handlers::kTcp,
        {{"tag", config::OptionType::kString, std::string(), "which configuration this is"}}};
  }
  const handlers::HandlerDescriptor& descriptor() const override { return descriptor_; }
  std::shared_ptr<const net::HandlerConfig> configure(const config::Options& o) const override {
    std::lock_guard lock(probe_.mutex);
    probe_.configs.push_back({o.getString("tag"), false, {}});
    return std::make_shared<ProbeConfig>(probe_, static_cast<int>(probe_.configs.size() - 1));
  }

 private:
  Probe& probe_;
  handlers::HandlerDescriptor descriptor_;
};

std::string probes(const std::string& kept_tag, const std::string& changed_tag) {
  return "[server]\nworkers = 2\n"
         "[[listener]]\nname = \"kept\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:0\"\n"
         "handler = \"probe\"\n[listener.options]\ntag = \"" +
         kept_tag +
         "\"\n"
         "[[listener]]\nname = \"changed\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:0\"\n"
         "handler = \"probe\"\n[listener.options]\ntag = \"" +
         changed_tag + "\"\n";
}

template <typename F>
bool eventually(F&& condition) {
  for (int i = 0; i < 500; ++i) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

// A reload keeps the handler configuration, and the instances, of an unchanged listener; the
// configuration it made again for it, and the replaced configuration of the changed listener,
// are released on the supervisor's thread, never on a worker.
TEST(SupervisorTest, AReloadKeepsTheInstancesOfUnchangedListeners) {
  Probe probe;
  handlers::Registry registry;
  handlers::registerBuiltins(registry);
  registry.add(std::make_shared<ProbeFactory>(probe));
  auto read = [&](const std::string& text) {
    return handlers::loadAndBind(text, "supervisor_test.toml", registry);
  };
  // Serial numbers: 0 kept, 1 changed (first), then the reload's 2 kept (again), 3 changed.
  Supervisor supervisor(
      read(probes("k", "c1")), [&] { return read(probes("k", "c2")); },
      Supervisor::Options{.signals = false});
  std::promise<std::thread::id> main_thread;
  auto status = std::async(std::launch::async, [&] {
    main_thread.set_value(std::this_thread::get_id());
    return supervisor.run();
  });
  std::thread::id supervisor_thread = main_thread.get_future().get();
  ASSERT_TRUE(supervisor.waitReady());
  ASSERT_TRUE(eventually([&] { return probe.instancesOf(0) == 2 && probe.instancesOf(1) == 2; }));

  supervisor.requestReload();
  // Both workers have moved on once they made the changed listener's new instances.
  ASSERT_TRUE(eventually([&] { return probe.instancesOf(3) == 2; }));
  EXPECT_EQ(probe.instancesOf(0), 2u) << "the kept listener's instances were made again";
  EXPECT_EQ(probe.instancesOf(2), 0u);
  EXPECT_TRUE(probe.released(2)) << "the duplicate made by the reload is dropped at once";
  // The old configuration goes within a sweep (a second) of its last listener object, although
  // the kept listener's objects were made from it.
  EXPECT_TRUE(eventually([&] { return probe.released(1); }));
  EXPECT_FALSE(probe.released(0));
  EXPECT_FALSE(probe.released(3));
  {
    std::lock_guard lock(probe.mutex);
    for (const Probe::Made& m : probe.configs) {
      if (m.released) {
        EXPECT_EQ(m.released_on, supervisor_thread) << m.tag;
      }
    }
  }
  supervisor.requestStop();
  ASSERT_EQ(status.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_EQ(status.get(), 0);
}

}  // namespace
}  // namespace portd::server
