// The http handler through the daemon's own TcpListener and Connection, on a loop run by the
// benchmark thread (see tcp_echo_bench.cc for what the time includes). One iteration: the
// client writes K pipelined requests in one write, the loop turns until the responses are all
// back. Reported per iteration: requests (items/s) and heap allocations, which must be 0 once
// the connection is warm.

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "bench_support.h"
#include "config/loader.h"
#include "handlers/bind.h"
#include "handlers/builtin/builtin.h"
#include "net/socket.h"

namespace portd::bench {
namespace {

std::shared_ptr<const config::Config> httpConfig() {
  static handlers::Registry registry = [] {
    handlers::Registry r;
    handlers::registerBuiltins(r);
    return r;
  }();
  return handlers::loadAndBind(R"(
[[listener]]
name = "bench"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "http"
[[listener.options.route]]
path = "/hello"
body = "hello, world\n"
)",
                               "(bench)", registry);
}

// An http listener on the rig's loop and one connected, non-blocking client.
class HttpPair {
 public:
  explicit HttpPair(LoopRig& rig) : rig_(rig), config_(httpConfig()), scratch_(256 * 1024) {
    const config::ListenerConfig& l = config_->listeners[0];
    int fd = net::openBoundSocket(l.protocol, l.address, &error_);
    if (fd < 0) {
      return;
    }
    net::Address bound = net::localAddress(fd);
    listener_ = std::make_unique<net::TcpListener>(rig.context(), l.settings(1),
                                                   config::sharedHandler(config_, 0));
    if (int rc = listener_->listen(fd); rc != 0) {
      error_ = std::string("listen: ") + uv_strerror(rc);
      return;
    }
    client_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (client_ < 0 || ::connect(client_, bound.sockaddr_ptr(), bound.length()) != 0) {
      error_ = std::string("connect: ") + std::strerror(errno);
      return;
    }
    int one = 1;
    ::setsockopt(client_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(client_, F_SETFL, ::fcntl(client_, F_GETFL) | O_NONBLOCK);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kStallTimeoutMs);
    while (listener_->connectionCount() == 0) {
      rig_.turn();
      if (std::chrono::steady_clock::now() > deadline) {
        error_ = "the listener did not accept the client";
        return;
      }
    }
  }

  ~HttpPair() {
    if (listener_) {
      listener_->stopAccepting();
      listener_.reset();
    }
    if (client_ >= 0) {
      ::close(client_);
    }
  }

  const std::string& error() const { return error_; }

  // Sends `request` and turns the loop until `expect` bytes came back (0: learn the size from
  // the first exchange, whose responses arrive in one write).
  bool exchange(const std::string& request, size_t* expect) {
    if (::send(client_, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
      error_ = "short send";
      return false;
    }
    size_t got = 0;
    auto deadline = std::chrono::steady_clock::time_point::max();
    while (*expect == 0 ? got == 0 : got < *expect) {
      rig_.turn();
      ssize_t n = ::recv(client_, scratch_.data(), scratch_.size(), 0);
      if (n > 0) {
        got += static_cast<size_t>(n);
        deadline = std::chrono::steady_clock::time_point::max();
      } else if (n == 0) {
        error_ = "the daemon closed the connection";
        return false;
      } else if (deadline == std::chrono::steady_clock::time_point::max()) {
        deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kStallTimeoutMs);
      } else if (std::chrono::steady_clock::now() > deadline) {
        error_ = "no response";
        return false;
      }
    }
    if (*expect == 0) {
      *expect = got;
    }
    return got == *expect;
  }

 private:
  LoopRig& rig_;
  std::string error_;
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<net::TcpListener> listener_;
  int client_ = -1;
  std::vector<char> scratch_;
};

// Arg: requests per write. 1 is request/response in lock step; more is a pipelining client,
// whose responses leave in one write.
void BM_HttpRoute(benchmark::State& state, const char* target) {
  const auto pipelined = static_cast<size_t>(state.range(0));
  LoopRig rig;
  {
    HttpPair pair(rig);
    std::string request;
    for (size_t i = 0; i < pipelined; ++i) {
      request += std::string("GET ") + target +
                 " HTTP/1.1\r\nHost: bench\r\nUser-Agent: portd_bench\r\nAccept: */*\r\n\r\n";
    }
    size_t expect = 0;
    AllocationSnapshot before;
    AllocationSnapshot after;
    auto exchange = [&](bool) { return pair.exchange(request, &expect); };
    if (pair.error().empty() && runExchanges(state, rig.context(), exchange, &before, &after)) {
      setProcessed(state, expect, pipelined);
      reportAllocations(state, before, after);
      if (after.heap != before.heap) {
        state.SkipWithError("heap allocations after warm-up");
      }
    } else {
      state.SkipWithError(pair.error().c_str());
    }
  }
  closeRig(state, rig);
}
BENCHMARK_CAPTURE(BM_HttpRoute, route, "/hello")->ArgName("pipelined")->Arg(1)->Arg(16);
BENCHMARK_CAPTURE(BM_HttpRoute, not_found, "/nope")->ArgName("pipelined")->Arg(1);
BENCHMARK_CAPTURE(BM_HttpRoute, echo, "/echo?status=200&header=X-A:b")
    ->ArgName("pipelined")
    ->Arg(1)
    ->Arg(16);

}  // namespace
}  // namespace portd::bench
