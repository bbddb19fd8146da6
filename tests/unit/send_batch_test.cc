// core::SendBatch: the writes of one batch of events leave in one io_uring_enter, each sender
// hears what a direct send would have told it, and a full socket never makes the batch wait.

#include "core/send_batch.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

using portd::core::SendBatch;

namespace {

// A connected pair of stream sockets: [0] is sent on, [1] is the peer.
struct Pair {
  Pair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd), 0); }
  ~Pair() {
    for (int f : fd) {
      if (f >= 0) {
        ::close(f);
      }
    }
  }
  std::string drain() const {
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = ::recv(fd[1], buf, sizeof buf, 0)) > 0) {
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  // Sends until the kernel takes no more.
  void fill() const {
    std::string chunk(65536, 'f');
    while (::send(fd[0], chunk.data(), chunk.size(), MSG_NOSIGNAL) > 0) {
    }
    ASSERT_EQ(errno, EAGAIN);
  }
  int fd[2] = {-1, -1};
};

// What each owner heard, in order.
struct Heard {
  std::string who;
  ssize_t result;
  std::string unsent;
};

struct Owner {
  std::string name;
  std::vector<Heard>* log;
};

bool settle(void* o, ssize_t result, std::string_view unsent) {
  auto* owner = static_cast<Owner*>(o);
  owner->log->push_back({owner->name, result, std::string(unsent)});
  return true;
}

// Follows come after every settle: the log is complete by the first.
size_t followed = 0;
size_t settled_at_first_follow = 0;
void follow(void* o, ssize_t /*result*/) {
  if (followed++ == 0) {
    settled_at_first_follow = static_cast<Owner*>(o)->log->size();
  }
}

const SendBatch::Receiver kRecord = {&settle, &follow};

class SendBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    followed = 0;
    settled_at_first_follow = 0;
    ASSERT_TRUE(batch_.enable(true)) << "io_uring refused: " << std::strerror(batch_.error());
  }
  SendBatch batch_;
  std::vector<Heard> log_;
  Owner a_{"a", &log_};
  Owner b_{"b", &log_};
  Owner c_{"c", &log_};
};

TEST_F(SendBatchTest, TheWritesOfOneBatchLeaveInOneSubmission) {
  Pair p1, p2, p3;
  batch_.begin();
  ASSERT_NE(batch_.add(p1.fd[0], "hello", &kRecord, &a_), 0u);
  ASSERT_NE(batch_.add(p2.fd[0], "big", &kRecord, &b_), 0u);
  ASSERT_NE(batch_.add(p3.fd[0], "world", &kRecord, &c_), 0u);
  batch_.flush();
  EXPECT_EQ(batch_.ringSubmits(), 1u);
  EXPECT_EQ(batch_.ringSends(), 3u);
  ASSERT_EQ(log_.size(), 3u);
  EXPECT_EQ(log_[0].who, "a");
  EXPECT_EQ(log_[0].result, 5);
  EXPECT_EQ(log_[1].who, "b");
  EXPECT_EQ(log_[2].who, "c");
  EXPECT_EQ(log_[2].unsent, "");
  EXPECT_EQ(p1.drain(), "hello");
  EXPECT_EQ(p2.drain(), "big");
  EXPECT_EQ(p3.drain(), "world");
  EXPECT_FALSE(batch_.collecting());
  EXPECT_EQ(followed, 3u);
  EXPECT_EQ(settled_at_first_follow, 3u) << "every entry settles before any follows";
}

// An entry that ends its stream is sent, then its socket is shut down for writing (the
// shutdowns of the batch in one more call); a socket whose send failed is not shut down.
TEST_F(SendBatchTest, AnEntryThatEndsItsStreamIsFollowedByTheEndOfTheStream) {
  Pair done, full;
  full.fill();
  batch_.begin();
  const uint32_t last = batch_.add(done.fd[0], "bye", &kRecord, &a_);
  ASSERT_NE(last, 0u);
  batch_.finishes(last);
  const uint32_t refused = batch_.add(full.fd[0], "refused", &kRecord, &b_);
  ASSERT_NE(refused, 0u);
  batch_.finishes(refused);
  batch_.flush();
  EXPECT_EQ(batch_.ringSubmits(), 2u) << "the sends, then the shutdown";
  ASSERT_EQ(log_.size(), 2u);
  EXPECT_EQ(log_[0].result, 3);
  EXPECT_EQ(log_[1].result, -EAGAIN);
  EXPECT_EQ(done.drain(), "bye");
  char c;
  EXPECT_EQ(::recv(done.fd[1], &c, 1, 0), 0) << "the end of the stream follows the bytes";
  full.drain();
  EXPECT_EQ(::recv(full.fd[1], &c, 1, 0), -1) << "no end of the stream after a failed send";
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(::send(full.fd[0], "x", 1, MSG_NOSIGNAL), 1) << "the socket is still open for writing";
}

TEST_F(SendBatchTest, AFullSocketIsAnsweredAtOnceAndTheOthersStillGo) {
  Pair full, free;
  full.fill();
  batch_.begin();
  ASSERT_NE(batch_.add(full.fd[0], "refused", &kRecord, &a_), 0u);
  ASSERT_NE(batch_.add(free.fd[0], "taken", &kRecord, &b_), 0u);
  batch_.flush();  // would never return if the full socket's send were parked
  ASSERT_EQ(log_.size(), 2u);
  EXPECT_EQ(log_[0].result, -EAGAIN);
  EXPECT_EQ(log_[0].unsent, "refused");
  EXPECT_EQ(log_[1].result, 5);
  EXPECT_EQ(free.drain(), "taken");
}

TEST_F(SendBatchTest, AClosedPeerIsAnError) {
  Pair gone, fine;
  ::close(gone.fd[1]);
  gone.fd[1] = -1;
  batch_.begin();
  ASSERT_NE(batch_.add(gone.fd[0], "lost", &kRecord, &a_), 0u);
  ASSERT_NE(batch_.add(fine.fd[0], "kept", &kRecord, &b_), 0u);
  batch_.flush();  // MSG_NOSIGNAL: no SIGPIPE either
  ASSERT_EQ(log_.size(), 2u);
  EXPECT_EQ(log_[0].result, -EPIPE);
  EXPECT_EQ(log_[0].unsent, "lost");
  EXPECT_EQ(log_[1].result, 4);
}

TEST_F(SendBatchTest, ASecondWriteJoinsTheFirstAndKeepsItsPlaceInTheStream) {
  Pair p1, p2;
  batch_.begin();
  uint32_t first = batch_.add(p1.fd[0], "one,", &kRecord, &a_);
  ASSERT_NE(first, 0u);
  ASSERT_NE(batch_.add(p2.fd[0], "other", &kRecord, &b_), 0u);
  uint32_t slot = first;
  ASSERT_TRUE(batch_.extend(&slot, "two,"));
  EXPECT_NE(slot, first) << "another entry followed: the entry moved to the end";
  ASSERT_TRUE(batch_.extend(&slot, "three"));
  EXPECT_EQ(batch_.pending(slot), "one,two,three");
  batch_.flush();
  ASSERT_EQ(log_.size(), 2u);  // one report per socket
  EXPECT_EQ(log_[0].who, "b");
  EXPECT_EQ(log_[1].who, "a");
  EXPECT_EQ(log_[1].result, 13);
  EXPECT_EQ(p1.drain(), "one,two,three");
}

TEST_F(SendBatchTest, ACancelledEntryIsNeitherSentNorReported) {
  Pair p1, p2;
  batch_.begin();
  uint32_t slot = batch_.add(p1.fd[0], "dropped", &kRecord, &a_);
  ASSERT_NE(batch_.add(p2.fd[0], "sent", &kRecord, &b_), 0u);
  batch_.cancel(slot);
  batch_.flush();
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_[0].who, "b");
  EXPECT_EQ(p1.drain(), "");
  EXPECT_EQ(batch_.ringSubmits(), 0u) << "one entry left: a plain send()";
  EXPECT_EQ(p2.drain(), "sent");
}

TEST_F(SendBatchTest, AReleasedEntryIsSentThenItsSocketClosedUnreported) {
  Pair p1, p2;
  batch_.begin();
  uint32_t slot = batch_.add(p1.fd[0], "last words", &kRecord, &a_);
  ASSERT_NE(batch_.add(p2.fd[0], "other", &kRecord, &b_), 0u);
  batch_.release(slot);
  const int released = p1.fd[0];
  p1.fd[0] = -1;  // the batch closes it
  batch_.flush();
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_[0].who, "b");
  EXPECT_EQ(p1.drain(), "last words");
  char c;
  EXPECT_EQ(::recv(p1.fd[1], &c, 1, 0), 0) << "closed after the send";
  EXPECT_EQ(::fcntl(released, F_GETFD), -1);
}

TEST_F(SendBatchTest, OnlyWhileCollectingAndWithinItsBounds) {
  Pair p;
  EXPECT_EQ(batch_.add(p.fd[0], "x", &kRecord, &a_), 0u) << "outside a batch";
  batch_.begin();
  EXPECT_EQ(batch_.add(p.fd[0], std::string(SendBatch::kMaxWrite + 1, 'x'), &kRecord, &a_), 0u);
  // Entries up to the limit, then no more; the arena bounds the bytes.
  std::vector<Owner> owners(SendBatch::kMaxEntries + 1, Owner{"n", &log_});
  for (unsigned i = 0; i < SendBatch::kMaxEntries; ++i) {
    ASSERT_NE(batch_.add(p.fd[0], "y", &kRecord, &owners[i]), 0u) << i;
  }
  EXPECT_EQ(batch_.add(p.fd[0], "z", &kRecord, &owners.back()), 0u);
  batch_.flush();
  EXPECT_EQ(log_.size(), SendBatch::kMaxEntries);
  EXPECT_EQ(p.drain(), std::string(SendBatch::kMaxEntries, 'y'));

  batch_.begin();
  const std::string block(SendBatch::kMaxWrite, 'b');
  size_t taken = 0;
  while (batch_.add(p.fd[0], block, &kRecord, &a_) != 0) {
    taken += block.size();
  }
  EXPECT_EQ(taken, SendBatch::kArenaSize);
  batch_.flush();

  ASSERT_FALSE(batch_.enable(false));
  batch_.begin();
  EXPECT_FALSE(batch_.collecting());
  EXPECT_EQ(batch_.add(p.fd[0], "x", &kRecord, &a_), 0u);
  batch_.flush();
}

}  // namespace
