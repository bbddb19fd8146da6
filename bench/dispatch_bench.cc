// The cost of calling a handler: the listener's call into the handler for one read or one
// datagram, with no system call around it. Three handlers that do nothing with the data:
//   native   a C++ class on portd's internal Handler interface (a virtual call, the floor)
//   builtin  the built-in discard handler, which goes through the public C interface
//   plugin   the same handler compiled into a shared object and loaded with [[plugin]]
// The connection and socket are real (accepted and bound on the rig's loop); only the read and
// the recvmmsg are skipped, so what is left is the dispatch itself.

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "alloc_counter.h"
#include "bench_support.h"
#include "config/loader.h"
#include "handlers/bind.h"
#include "handlers/builtin/builtin.h"
#include "plugin/plugin_loader.h"

namespace portd::bench {
namespace {

class NativeDiscard final : public net::Handler {
 public:
  void onData(net::Connection& /*conn*/, std::string_view data) override {
    benchmark::DoNotOptimize(data.data());
  }
  void onDatagram(net::UdpSocket& /*socket*/, const sockaddr* /*peer*/,
                  std::string_view data) override {
    benchmark::DoNotOptimize(data.data());
  }
};

class NativeConfig final : public net::HandlerConfig {
 public:
  std::unique_ptr<net::Handler> createInstance(
      const net::InstanceContext& /*where*/) const override {
    return std::make_unique<NativeDiscard>();
  }
};

class NativeFactory final : public handlers::HandlerFactory {
 public:
  const handlers::HandlerDescriptor& descriptor() const override { return d_; }
  std::shared_ptr<const net::HandlerConfig> configure(
      const config::Options& /*options*/) const override {
    return std::make_shared<NativeConfig>();
  }

 private:
  handlers::HandlerDescriptor d_{"native_discard", "", handlers::kTcp | handlers::kUdp, {}};
};

const char* handlerName(int64_t kind) {
  switch (kind) {
    case 0:
      return "native_discard";
    case 1:
      return "discard";
    default:
      return "plugin_discard";
  }
}

std::shared_ptr<const config::Config> dispatchConfig(const char* protocol, int64_t kind) {
  static const handlers::Registry registry = [] {
    handlers::Registry r;
    handlers::registerBuiltins(r);
    r.add(std::make_shared<NativeFactory>());
    return r;
  }();
  std::string text = std::string("[[plugin]]\npath = \"") + PORTD_DISPATCH_PLUGIN +
                     "\"\n[[listener]]\nname = \"bench\"\nprotocol = \"" + protocol +
                     "\"\naddress = \"127.0.0.1:0\"\nhandler = \"" + handlerName(kind) + "\"\n";
  // As the daemon does it: parse, load the plugins into a copy of the registry, then bind.
  std::shared_ptr<config::Config> config = config::loadConfig(text, "bench");
  handlers::Registry with_plugins = registry;
  plugin::loadPlugins(*config, with_plugins);
  handlers::bind(*config, with_plugins);
  return config;
}

const std::string kData(64, 'x');

void reportHeap(benchmark::State& state, uint64_t before) {
  state.counters["heap_allocs_per_iter"] = benchmark::Counter(
      static_cast<double>(heapAllocations() - before) / static_cast<double>(state.iterations()));
}

// Arg: 0 native, 1 builtin, 2 plugin.
void BM_DispatchRead(benchmark::State& state) {
  LoopRig rig;
  {
    auto config = dispatchConfig("tcp", state.range(0));
    const config::ListenerConfig& l = config->listeners[0];
    std::string error;
    int fd = net::openBoundSocket(l.protocol, l.address, &error);
    net::Address bound = net::localAddress(fd);
    net::TcpListener listener(rig.context(), l.settings(1), config::sharedHandler(config, 0));
    listener.listen(fd);
    int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(client, bound.sockaddr_ptr(), sizeof(sockaddr_in)) != 0) {
      state.SkipWithError("connect failed");
    }
    for (int i = 0; i < 1000 && listener.connectionCount() == 0; ++i) {
      rig.turn();
    }
    net::Connection* conn = nullptr;
    listener.forEachConnection([&](net::Connection& c) { conn = &c; });
    if (conn == nullptr) {
      state.SkipWithError("no connection accepted");
    } else {
      net::Handler& handler = listener.handler();
      uint64_t heap = heapAllocations();
      for (auto _ : state) {
        handler.onData(*conn, kData);
      }
      reportHeap(state, heap);
    }
    ::close(client);
    listener.abortAll();
  }
  closeRig(state, rig);
}
BENCHMARK(BM_DispatchRead)->ArgName("native0_builtin1_plugin2")->DenseRange(0, 2);

void BM_DispatchDatagram(benchmark::State& state) {
  LoopRig rig;
  {
    auto config = dispatchConfig("udp", state.range(0));
    const config::ListenerConfig& l = config->listeners[0];
    std::string error;
    int fd = net::openBoundSocket(l.protocol, l.address, &error);
    net::UdpSocket socket(rig.context(), l.settings(1), config::sharedHandler(config, 0));
    socket.open(fd);
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_port = htons(40000);
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    net::Handler& handler = socket.handler();
    uint64_t heap = heapAllocations();
    for (auto _ : state) {
      handler.onDatagram(socket, reinterpret_cast<const sockaddr*>(&peer), kData);
    }
    reportHeap(state, heap);
    socket.stop();
  }
  closeRig(state, rig);
}
BENCHMARK(BM_DispatchDatagram)->ArgName("native0_builtin1_plugin2")->DenseRange(0, 2);

}  // namespace
}  // namespace portd::bench
