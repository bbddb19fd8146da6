#include "echo_rig.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "alloc_counter.h"
#include "config/loader.h"
#include "handlers/bind.h"
#include "handlers/builtin/builtin.h"
#include "net/socket.h"

namespace portd::bench {

namespace {

std::string systemError(const char* what, int error) {
  return std::string(what) + ": " + std::strerror(error);
}

// Detects an exchange that stopped making progress. The clock is read only on passes that made
// none, so a healthy exchange never pays for it.
class StallTimer {
 public:
  // True once `kStallTimeoutMs` have passed since the last progress() (or since creation).
  bool stalled() {
    auto now = std::chrono::steady_clock::now();
    if (!waiting_) {
      waiting_ = true;
      since_ = now;
      return false;
    }
    return now - since_ > std::chrono::milliseconds(kStallTimeoutMs);
  }
  void progress() { waiting_ = false; }

 private:
  bool waiting_ = false;
  std::chrono::steady_clock::time_point since_;
};

}  // namespace

std::string patterned(size_t size) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    bytes[i] = static_cast<char>('a' + i % 23);
  }
  return bytes;
}

LoopRig::LoopRig() {
  // uv_loop_init fails only when the process is out of descriptors or memory; a benchmark
  // cannot run then, and the first libuv call on the loop would say so anyway.
  if (uv_loop_init(&loop_) != 0) {
    std::abort();
  }
  ctx_.emplace(&loop_, 0);
}

LoopRig::~LoopRig() { close(); }

std::string LoopRig::close() {
  if (closed_) {
    return {};
  }
  closed_ = true;
  // The context's poller has libuv handles of its own (its epoll set in the loop); it goes
  // with the loop's other owners.
  ctx_.reset();
  // Owners destroyed just before this call have closed their handles; one turn runs the close
  // callbacks that free them.
  uv_run(&loop_, UV_RUN_NOWAIT);
  std::string leaked;
  uv_walk(
      &loop_,
      [](uv_handle_t* h, void* arg) {
        if (!uv_is_closing(h)) {
          auto* names = static_cast<std::string*>(arg);
          *names += std::string(names->empty() ? "" : ", ") + uv_handle_type_name(h->type);
          uv_close(h, nullptr);
        }
      },
      &leaked);
  uv_run(&loop_, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&loop_);
  if (!leaked.empty()) {
    return "libuv handles left open: " + leaked;
  }
  if (rc != 0) {
    return std::string("uv_loop_close: ") + uv_strerror(rc);
  }
  return {};
}

AllocationSnapshot AllocationSnapshot::take(core::LoopContext& ctx) {
  return AllocationSnapshot{ctx.readPool().allocations(), ctx.writePool().allocations(),
                            heapAllocations()};
}

std::shared_ptr<const config::Config> echoConfig(std::string_view protocol) {
  static const handlers::Registry registry = [] {
    handlers::Registry r;
    handlers::registerBuiltins(r);
    return r;
  }();
  std::string text = "[[listener]]\nname = \"bench\"\nprotocol = \"" + std::string(protocol) +
                     "\"\naddress = \"127.0.0.1:0\"\nhandler = \"echo\"\n";
  return handlers::loadAndBind(text, "bench", registry);
}

TcpEchoPair::TcpEchoPair(LoopRig& rig, int client_receive_buffer)
    : rig_(rig), config_(echoConfig("tcp")), scratch_(256 * 1024) {
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
  if (client_ < 0) {
    error_ = systemError("socket", errno);
    return;
  }
  // Set before connect(), so that the window the client announces already reflects it.
  if (client_receive_buffer > 0 &&
      ::setsockopt(client_, SOL_SOCKET, SO_RCVBUF, &client_receive_buffer,
                   sizeof client_receive_buffer) != 0) {
    error_ = systemError("setsockopt(SO_RCVBUF)", errno);
    return;
  }
  // A blocking connect completes as soon as the kernel has queued the connection in the
  // backlog; the listener accepts it on the next loop turn.
  if (::connect(client_, bound.sockaddr_ptr(), bound.length()) != 0) {
    error_ = systemError("connect", errno);
    return;
  }
  // As sockperf does: each request is one write, and Nagle's algorithm must not hold back the
  // tail of a large request that was sent in pieces.
  int one = 1;
  ::setsockopt(client_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(client_, F_SETFL, ::fcntl(client_, F_GETFL) | O_NONBLOCK);
  StallTimer timer;
  while (listener_->connectionCount() == 0) {
    rig_.turn();
    if (timer.stalled()) {
      error_ = "the listener did not accept the client";
      return;
    }
  }
}

TcpEchoPair::~TcpEchoPair() {
  if (listener_) {
    // The destructor alone would leave the listening descriptor open: only stopAccepting()
    // closes it.
    listener_->stopAccepting();
    listener_.reset();
  }
  if (client_ >= 0) {
    ::close(client_);
  }
}

bool TcpEchoPair::exchange(std::string_view request, bool verify) {
  size_t sent = 0;
  size_t received = 0;
  StallTimer timer;
  while (received < request.size()) {
    bool progress = false;
    if (sent < request.size()) {
      ssize_t n = ::send(client_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        progress = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        error_ = systemError("send", errno);
        return false;
      }
    }
    rig_.turn();
    // The client reads only once it has sent everything or the kernel takes no more. A request
    // larger than the socket buffers then fills the client's receive buffer, as a slow reader
    // would, and the listener has to queue part of the echo. A small request is sent at once,
    // so it costs no extra turn.
    if (sent < request.size() && progress) {
      timer.progress();
      continue;
    }
    ssize_t n = ::recv(client_, scratch_.data(), scratch_.size(), 0);
    if (n > 0) {
      auto got = static_cast<size_t>(n);
      if (received + got > sent) {
        error_ = "the echo returned more bytes than were sent";
        return false;
      }
      if (verify && std::memcmp(scratch_.data(), request.data() + received, got) != 0) {
        error_ = "the echo differs from the request at byte " + std::to_string(received);
        return false;
      }
      received += got;
      progress = true;
    } else if (n == 0) {
      error_ = "the server closed the connection";
      return false;
    } else if (errno != EAGAIN && errno != EINTR) {
      error_ = systemError("recv", errno);
      return false;
    }
    if (progress) {
      timer.progress();
    } else if (timer.stalled()) {
      error_ = "no progress for " + std::to_string(kStallTimeoutMs) + " ms after " +
               std::to_string(sent) + " bytes sent, " + std::to_string(received) + " received";
      return false;
    }
  }
  return true;
}

UdpEchoPair::UdpEchoPair(LoopRig& rig)
    : rig_(rig), config_(echoConfig("udp")), payload_(patterned(64 * 1024 + kMaxBatch)) {
  const config::ListenerConfig& l = config_->listeners[0];
  int fd = net::openBoundSocket(l.protocol, l.address, &error_);
  if (fd < 0) {
    return;
  }
  net::Address bound = net::localAddress(fd);
  socket_ = std::make_unique<net::UdpSocket>(rig.context(), l.settings(1),
                                             config::sharedHandler(config_, 0));
  if (int rc = socket_->open(fd); rc != 0) {
    error_ = std::string("open: ") + uv_strerror(rc);
    return;
  }
  client_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (client_ < 0) {
    error_ = systemError("socket", errno);
    return;
  }
  if (::connect(client_, bound.sockaddr_ptr(), bound.length()) != 0) {
    error_ = systemError("connect", errno);
  }
}

UdpEchoPair::~UdpEchoPair() {
  socket_.reset();
  if (client_ >= 0) {
    ::close(client_);
  }
}

bool UdpEchoPair::exchange(size_t size, size_t count, bool verify) {
  if (count == 0 || count > kMaxBatch || size > payload_.size() - kMaxBatch) {
    error_ = "unsupported batch";
    return false;
  }
  if (scratch_.size() < size * count) {
    scratch_.resize(size * count);  // once, during warm-up
  }
  mmsghdr msgs[kMaxBatch];
  iovec iovs[kMaxBatch];
  for (size_t i = 0; i < count; ++i) {
    // Datagram i starts at byte i of the pattern, so each one of a batch is different.
    iovs[i] = iovec{payload_.data() + i, size};
    msgs[i] = mmsghdr{};
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  int sent = ::sendmmsg(client_, msgs, static_cast<unsigned>(count), 0);
  if (sent != static_cast<int>(count)) {
    error_ = sent < 0 ? systemError("sendmmsg", errno) : "sendmmsg sent only part of the batch";
    return false;
  }
  size_t received = 0;
  StallTimer timer;
  while (received < count) {
    rig_.turn();
    for (size_t i = received; i < count; ++i) {
      iovs[i] = iovec{scratch_.data() + i * size, size};
      msgs[i] = mmsghdr{};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = ::recvmmsg(client_, msgs + received, static_cast<unsigned>(count - received),
                       MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) {
        error_ = systemError("recvmmsg", errno);
        return false;
      }
      if (timer.stalled()) {
        error_ = "no echo for " + std::to_string(kStallTimeoutMs) + " ms; " +
                 std::to_string(received) + " of " + std::to_string(count) + " came back";
        return false;
      }
      continue;
    }
    for (int j = 0; j < n; ++j, ++received) {
      if (msgs[received].msg_len != size || (msgs[received].msg_hdr.msg_flags & MSG_TRUNC)) {
        error_ = "echoed datagram of " + std::to_string(msgs[received].msg_len) +
                 " bytes instead of " + std::to_string(size);
        return false;
      }
      if (verify &&
          std::memcmp(scratch_.data() + received * size, payload_.data() + received, size) != 0) {
        error_ = "echoed datagram " + std::to_string(received) + " differs from the request";
        return false;
      }
    }
    timer.progress();
  }
  return true;
}

}  // namespace portd::bench
