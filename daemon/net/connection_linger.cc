// A closed connection's lingering (connection.h): the socket is shut down for writing and what
// the peer still sends is read and dropped, so that closing it does not reset the answer the
// peer has not read yet. The rest of the connection is in connection.cc.

#include <sys/socket.h>
#include <uv.h>

#include <algorithm>

#include "core/loop_context.h"
#include "net/connection.h"
#include "net/socket_io.h"
#include "net/tcp_listener.h"

namespace portd::net {

void Connection::closeLingering() {
  if (!closing_) {
    linger_asked_ = true;  // also for a close() already waiting for its output
  }
  close();
}

void Connection::closeOrLinger() {
  // The common close: the last read emptied the socket and the peer was not streaming (nor
  // did the handler say it may still send), so nothing is there to reset it with; or the peer
  // has closed its side. A draining listener
  // (shutdown, reload) does not wait for peers either.
  if ((!readable_ && !streaming_ && !linger_asked_) || peer_closed_ || owner_.lingering_ms_ == 0 ||
      !owner_.accepting() || fd_ < 0) {
    abort();
    return;
  }
  close_after_flush_ = true;
  lingering_ = true;
  updateReading();
  // The FIN, unless it left with the answer (core::SendBatch): a peer that reads the answer
  // learns that it is whole, and stops sending.
  ::shutdown(fd_, SHUT_WR);
  // The handler is done with the connection, as with any close whose output has left: it hears
  // onClose now, and the id goes stale. Only the socket lingers.
  if (opened_) {
    opened_ = false;
    owner_.handler().onClose(*this);
    if (closing_) {
      return;  // the handler aborted it from onClose: closed now, nothing to linger on
    }
  }
  context().connections().remove(id_);
  linger_end_ms_ = uv_now(ctx_.loop()) + kMaxLingerMs;
  touch();  // the lingering_timeout counts from here
  if (io_token_ == 0) {
    watch();  // start() left it out: its answer and the close were in the batch
    if (closing_) {
      return;
    }
  }
  dropInput();
  if (!closing_) {
    armLingerTimer();
  }
}

void Connection::dropInput() {
  core::BufferPool& pool = ctx_.readPool();
  char* buf = pool.acquire();
  ssize_t n = 0;
  int error = 0;
  int round = 0;
  for (; round < kReadRounds; ++round) {
    n = readSocket(fd_, buf, pool.blockSize());
    if (n > 0) {
      owner_.stats().bytes_in += static_cast<uint64_t>(n);
      touch();
      continue;
    }
    error = n < 0 ? errno : 0;
    if (error != EINTR) {
      break;
    }
  }
  pool.release(buf);
  if (round == kReadRounds) {
    // More: after the other connections of this batch. By pointer, since the id is stale; a
    // close meanwhile defers the destruction after this.
    linger_read_pending_ = true;
    ctx_.poller().defer(&onLingerRead, this);
  } else if (n < 0 && error == EAGAIN) {
    readable_ = false;
  } else {
    abort();  // the peer closed its side too (or the socket failed): nothing to wait for
  }
}

void Connection::onLingerRead(void* self) {
  auto* c = static_cast<Connection*>(self);
  c->linger_read_pending_ = false;
  if (!c->closing_) {
    c->dropInput();
  }
}

void Connection::armLingerTimer() {
  const uint64_t now = uv_now(ctx_.loop());
  const uint64_t quiet = now - std::min(now, last_activity_ms_);
  const uint64_t timeout = owner_.lingering_ms_;
  const uint64_t left =
      std::min(timeout - std::min(timeout, quiet), linger_end_ms_ - std::min(linger_end_ms_, now));
  if (left == 0) {
    abort();
    return;
  }
  // By pointer: finish() stops the timer.
  linger_timer_ = context().timers().start(left, &onLingerTimer, this, nullptr);
}

void Connection::onLingerTimer(void* self) {
  auto* c = static_cast<Connection*>(self);
  c->linger_timer_ = 0;
  c->armLingerTimer();  // closes once the peer was quiet that long, or at the end
}

}  // namespace portd::net
