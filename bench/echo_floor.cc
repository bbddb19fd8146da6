// The least an event loop can do to answer sockperf's ping-pong: the floor that
// bench/echo_floor.sh puts between sockperf's own server and portd.
//
// sockperf's server serves one socket and blocks in recvfrom on it: the wake-up that brings a
// message also brings its bytes, and a round trip costs two system calls. A server that watches
// many descriptors waits for readiness first, then reads. This program is that server with
// nothing else in it (no timers, no handler, no configuration), in two ways:
//   --wait epoll   epoll_wait, then recvmmsg/sendmmsg (UDP) or read/send (TCP): what portd does
//   --wait uring   the reads are io_uring multishot receives into a ring of provided buffers,
//                  so the wake-up brings the bytes as recvfrom's does; the thread waits in
//                  io_uring_enter, and answers with sendmsg/send
// What is left between the epoll floor and sockperf is the cost of the readiness wait; what is
// left between portd and the epoll floor is portd's own.
//
//   portd_echo_floor --protocol udp --wait epoll     # prints "port N" once it listens
//
// Loopback only, port 0 unless --port is given; runs until killed. Answers sockperf's messages
// as its server does: the message with the client bit cleared, only those that ask for a pong.

#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// sockperf 3.7's header: sequence (8 bytes), flags (2), length with the header (4), big-endian.
constexpr size_t kHeader = 14;
constexpr uint8_t kClientBit = 1;
constexpr uint8_t kPongRequestBit = 2;
constexpr size_t kMaxMessage = 65536;

[[noreturn]] void die(const char* what, int err) {
  std::fprintf(stderr, "portd_echo_floor: %s: %s\n", what, std::strerror(err));
  std::exit(1);
}

// Turns the message at `m` (whole, `len` bytes) into its answer; false when none is wanted.
bool answer(char* m, size_t len) {
  if (len < kHeader || (m[9] & kPongRequestBit) == 0) {
    return false;
  }
  m[9] = static_cast<char>(m[9] & ~kClientBit);
  return true;
}

// The length of the first whole message of a TCP stream, or 0 while it is incomplete.
size_t messageLength(const char* p, size_t have) {
  if (have < kHeader) {
    return 0;
  }
  uint32_t len;
  std::memcpy(&len, p + 10, 4);
  len = ntohl(len);
  if (len < kHeader || len > kMaxMessage) {
    return SIZE_MAX;  // not sockperf: the connection is dropped
  }
  return have >= len ? len : 0;
}

int listenOn(bool tcp, int port) {
  const int fd = ::socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (tcp) {
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // copied to accepted sockets
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    die("bind", errno);
  }
  if (tcp && ::listen(fd, 128) != 0) {
    die("listen", errno);
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  std::printf("port %d\n", ntohs(a.sin_port));
  std::fflush(stdout);
  return fd;
}

// A TCP connection's unanswered bytes, answered message by message.
struct Stream {
  std::string in;
  // Appends `data` and sends the answers of the whole messages; false to drop the connection.
  bool take(int fd, const char* data, size_t n) {
    in.append(data, n);
    size_t at = 0;
    size_t out_end = 0;
    for (;;) {
      const size_t len = messageLength(in.data() + at, in.size() - at);
      if (len == SIZE_MAX) {
        return false;
      }
      if (len == 0) {
        break;
      }
      if (answer(in.data() + at, len)) {
        if (at != out_end) {
          std::memmove(in.data() + out_end, in.data() + at, len);
        }
        out_end += len;
      }
      at += len;
    }
    if (out_end > 0 &&
        ::send(fd, in.data(), out_end, MSG_NOSIGNAL) != static_cast<ssize_t>(out_end)) {
      return false;  // a floor does not queue: sockperf has one message in flight
    }
    in.erase(0, at);
    return true;
  }
};

// ---- epoll

void udpEpoll(int fd) {
  const int ep = ::epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  constexpr int kBatch = 16;
  static char bufs[kBatch][kMaxMessage];
  mmsghdr m[kBatch];
  iovec iov[kBatch];
  sockaddr_in peers[kBatch];
  for (;;) {
    epoll_event out[8];
    if (::epoll_wait(ep, out, 8, -1) <= 0) {
      continue;
    }
    for (int i = 0; i < kBatch; ++i) {
      iov[i] = {bufs[i], kMaxMessage};
      m[i] = {};
      m[i].msg_hdr.msg_name = &peers[i];
      m[i].msg_hdr.msg_namelen = sizeof peers[i];
      m[i].msg_hdr.msg_iov = &iov[i];
      m[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = ::recvmmsg(fd, m, kBatch, MSG_DONTWAIT, nullptr);
    int k = 0;
    for (int i = 0; i < n; ++i) {
      if (answer(bufs[i], m[i].msg_len)) {
        iov[i].iov_len = m[i].msg_len;
        m[k++] = m[i];
      }
    }
    if (k > 0) {
      ::sendmmsg(fd, m, static_cast<unsigned>(k), 0);
    }
  }
}

void tcpEpoll(int lfd) {
  const int ep = ::epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = lfd;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  std::vector<Stream> streams(1024);
  static char buf[kMaxMessage];
  for (;;) {
    epoll_event out[64];
    const int n = ::epoll_wait(ep, out, 64, -1);
    for (int i = 0; i < n; ++i) {
      const int fd = out[i].data.fd;
      if (fd == lfd) {
        const int c = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK);
        if (c >= 0 && static_cast<size_t>(c) < streams.size()) {
          streams[c] = {};
          epoll_event cev{};
          cev.events = EPOLLIN;
          cev.data.fd = c;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        } else if (c >= 0) {
          ::close(c);
        }
        continue;
      }
      const ssize_t r = ::read(fd, buf, sizeof buf);
      if (r == 0 || (r < 0 && errno != EAGAIN) ||
          (r > 0 && !streams[fd].take(fd, buf, static_cast<size_t>(r)))) {
        ::close(fd);
      }
    }
  }
}

// ---- io_uring: multishot receives into provided buffers

constexpr unsigned kBuffers = 64;
constexpr unsigned kGroup = 1;
constexpr uint64_t kAcceptTag = UINT64_MAX;

struct Uring {
  io_uring ring{};
  io_uring_buf_ring* br = nullptr;
  std::vector<char> bufs;
  msghdr recv_template{};  // what a multishot recvmsg keeps of each datagram: the peer

  Uring() : bufs(static_cast<size_t>(kBuffers) * kMaxMessage) {
    io_uring_params p{};
    // The completions are collected by this thread only, inside its own io_uring_enter.
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    if (int rc = io_uring_queue_init_params(256, &ring, &p); rc != 0) {
      die("io_uring_queue_init_params", -rc);
    }
    void* mem = nullptr;
    if (::posix_memalign(&mem, 4096, kBuffers * sizeof(io_uring_buf)) != 0) {
      die("posix_memalign", ENOMEM);
    }
    br = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_ring_init(br);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uintptr_t>(br);
    reg.ring_entries = kBuffers;
    reg.bgid = kGroup;
    if (int rc = io_uring_register_buf_ring(&ring, &reg, 0); rc != 0) {
      die("io_uring_register_buf_ring", -rc);
    }
    for (unsigned i = 0; i < kBuffers; ++i) {
      giveBack(i);
    }
    recv_template.msg_namelen = sizeof(sockaddr_in);
  }
  char* buffer(unsigned bid) { return bufs.data() + static_cast<size_t>(bid) * kMaxMessage; }
  void giveBack(unsigned bid) {
    io_uring_buf_ring_add(br, buffer(bid), kMaxMessage, static_cast<unsigned short>(bid),
                          io_uring_buf_ring_mask(kBuffers), 0);
    io_uring_buf_ring_advance(br, 1);
  }
  io_uring_sqe* sqe() {
    io_uring_sqe* s = io_uring_get_sqe(&ring);
    if (s == nullptr) {
      io_uring_submit(&ring);
      s = io_uring_get_sqe(&ring);
    }
    return s;
  }
  void armRecvmsg(int fd) {
    io_uring_sqe* s = sqe();
    io_uring_prep_recvmsg_multishot(s, fd, &recv_template, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = kGroup;
    s->user_data = static_cast<uint64_t>(fd);
  }
  void armRecv(int fd) {
    io_uring_sqe* s = sqe();
    io_uring_prep_recv_multishot(s, fd, nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = kGroup;
    s->user_data = static_cast<uint64_t>(fd);
  }
  void armAccept(int lfd) {
    io_uring_sqe* s = sqe();
    io_uring_prep_multishot_accept(s, lfd, nullptr, nullptr, SOCK_NONBLOCK);
    s->user_data = kAcceptTag;
  }
  // Waits for at least one completion and hands each to fn(cqe).
  template <typename Fn>
  void turn(Fn fn) {
    io_uring_submit_and_wait(&ring, 1);
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring, head, cqe) {
      fn(cqe);
      ++seen;
    }
    io_uring_cq_advance(&ring, seen);
  }
};

void udpUring(int fd) {
  Uring u;
  u.armRecvmsg(fd);
  for (;;) {
    u.turn([&](io_uring_cqe* cqe) {
      if ((cqe->flags & IORING_CQE_F_MORE) == 0) {
        u.armRecvmsg(fd);  // out of buffers, or ended: asked again
      }
      if (cqe->res < 0 || (cqe->flags & IORING_CQE_F_BUFFER) == 0) {
        return;
      }
      const unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
      io_uring_recvmsg_out* o =
          io_uring_recvmsg_validate(u.buffer(bid), cqe->res, &u.recv_template);
      if (o != nullptr && o->namelen >= sizeof(sockaddr_in)) {
        char* payload = static_cast<char*>(io_uring_recvmsg_payload(o, &u.recv_template));
        const unsigned len = io_uring_recvmsg_payload_length(o, cqe->res, &u.recv_template);
        if (answer(payload, len)) {
          ::sendto(fd, payload, len, 0, static_cast<sockaddr*>(io_uring_recvmsg_name(o)),
                   sizeof(sockaddr_in));
        }
      }
      u.giveBack(bid);
    });
  }
}

void tcpUring(int lfd) {
  Uring u;
  std::vector<Stream> streams(1024);
  u.armAccept(lfd);
  for (;;) {
    u.turn([&](io_uring_cqe* cqe) {
      if (cqe->user_data == kAcceptTag) {
        if ((cqe->flags & IORING_CQE_F_MORE) == 0) {
          u.armAccept(lfd);
        }
        if (cqe->res >= 0 && static_cast<size_t>(cqe->res) < streams.size()) {
          streams[cqe->res] = {};
          u.armRecv(cqe->res);
        } else if (cqe->res >= 0) {
          ::close(cqe->res);
        }
        return;
      }
      const int fd = static_cast<int>(cqe->user_data);
      if (cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER) != 0) {
        const unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        const bool ok = streams[fd].take(fd, u.buffer(bid), static_cast<size_t>(cqe->res));
        u.giveBack(bid);
        if (!ok) {
          ::shutdown(fd, SHUT_RDWR);  // ends its multishot receive, which then closes it
          return;
        }
      }
      if ((cqe->flags & IORING_CQE_F_MORE) == 0) {
        if (cqe->res == 0 || (cqe->res < 0 && cqe->res != -ENOBUFS)) {
          ::close(fd);
        } else {
          u.armRecv(fd);
        }
      }
    });
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string protocol = "udp";
  std::string wait = "epoll";
  int port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--protocol") {
      protocol = argv[i + 1];
    } else if (key == "--wait") {
      wait = argv[i + 1];
    } else if (key == "--port") {
      port = std::atoi(argv[i + 1]);
    }
  }
  if ((protocol != "udp" && protocol != "tcp") || (wait != "epoll" && wait != "uring") ||
      argc % 2 == 0) {
    std::fprintf(stderr,
                 "usage: portd_echo_floor [--protocol udp|tcp] [--wait epoll|uring] [--port N]\n");
    return 2;
  }
  const bool tcp = protocol == "tcp";
  const int fd = listenOn(tcp, port);
  if (wait == "epoll") {
    tcp ? tcpEpoll(fd) : udpEpoll(fd);
  } else {
    tcp ? tcpUring(fd) : udpUring(fd);
  }
}
