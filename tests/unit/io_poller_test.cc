// core::IoPoller on real descriptors (socket pairs) and a real libuv loop: the two ways it runs,
// the tokens that make a late event harmless, deferred calls, and the loop's clock.

#include "core/io_poller.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "loop_fixture.h"

using namespace portd::core;

namespace {

struct Pair {
  int a = -1;
  int b = -1;
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    a = fds[0];
    b = fds[1];
  }
  ~Pair() {
    if (a >= 0) {
      ::close(a);
    }
    if (b >= 0) {
      ::close(b);
    }
  }
};

// Reads what is there and counts the calls; optionally stops watching and closes, as a
// connection that ends does.
struct Reader : IoWatch {
  IoPoller* poller = nullptr;
  uint64_t token = 0;
  int fd = -1;
  int calls = 0;
  uint64_t loop_now_ms = 0;  // uv_now() seen by the last call
  uv_loop_t* loop = nullptr;
  bool close_on_read = false;

  Reader() {
    on_io = [](IoWatch* w, uint32_t) {
      auto* self = static_cast<Reader*>(w);
      ++self->calls;
      self->loop_now_ms = uv_now(self->loop);
      char buf[64];
      while (::read(self->fd, buf, sizeof buf) > 0) {
      }
      if (self->close_on_read) {
        self->poller->remove(self->token);
        ::close(self->fd);
        self->fd = -1;
      }
    };
  }
};

class IoPollerTest : public LoopTest {
 protected:
  // Has `r` read `fd` through `poller` when `events` come.
  void watch(Reader& r, IoPoller& poller, int fd, uint32_t events) {
    r.poller = &poller;
    r.fd = fd;
    r.loop = loop();
    r.token = poller.add(fd, events, &r);
  }

  Pair pair_;  // the tests watch `a` and write to `b`
};

TEST_F(IoPollerTest, NestedModeDeliversThroughUvRun) {
  {
    IoPoller poller(loop(), IoPoller::Mode::kNested);
    Reader r;
    watch(r, poller, pair_.a, EPOLLIN);
    ASSERT_NE(r.token, 0u);
    EXPECT_EQ(poller.watched(), 1u);
    ASSERT_EQ(::write(pair_.b, "x", 1), 1);
    ASSERT_TRUE(runUntil([&] { return r.calls == 1; }));
    poller.remove(r.token, pair_.a);
    EXPECT_EQ(poller.watched(), 0u);
  }
}

// An event that comes for a registration already removed is dropped, even when the descriptor
// lives on in a duplicate (so that close() did not take it out of the epoll set): the token is
// dead, and nothing is called.
TEST_F(IoPollerTest, AnEventForARemovedRegistrationIsDropped) {
  IoPoller poller(loop(), IoPoller::Mode::kNested);
  Reader r;
  watch(r, poller, ::dup(pair_.a), EPOLLIN | EPOLLET);
  ASSERT_NE(r.token, 0u);
  const int copy = pair_.a;  // the same open file, still open: its registration stays in the set
  poller.remove(r.token);
  ::close(r.fd);
  r.fd = copy;
  Reader other;  // takes the freed slot: a late event must not reach it either
  watch(other, poller, pair_.b, EPOLLIN);
  ASSERT_NE(other.token, r.token);
  ASSERT_EQ(::write(pair_.b, "x", 1), 1);
  for (int i = 0; i < 20; ++i) {
    uv_run(loop(), UV_RUN_NOWAIT);
  }
  EXPECT_EQ(r.calls, 0);
  EXPECT_EQ(other.calls, 0);
  poller.remove(other.token, pair_.b);
}

TEST_F(IoPollerTest, DeferredCallsRunAfterTheBatchInOrder) {
  IoPoller poller(loop(), IoPoller::Mode::kNested);
  std::vector<int> order;
  struct Deferring : IoWatch {
    IoPoller* poller;
    std::vector<int>* order;
    int fd;
  } w;
  w.poller = &poller;
  w.order = &order;
  w.fd = pair_.a;
  w.on_io = [](IoWatch* iw, uint32_t) {
    auto* self = static_cast<Deferring*>(iw);
    char buf[8];
    while (::read(self->fd, buf, sizeof buf) > 0) {
    }
    self->order->push_back(1);
    self->poller->defer([](void* o) { static_cast<std::vector<int>*>(o)->push_back(3); },
                        self->order);
    self->order->push_back(2);
  };
  const uint64_t token = poller.add(pair_.a, EPOLLIN, &w);
  ASSERT_EQ(::write(pair_.b, "x", 1), 1);
  ASSERT_TRUE(runUntil([&] { return order.size() == 3; }));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  poller.remove(token, pair_.a);
}

// CPU time of the calling thread, in milliseconds.
double threadCpuMs() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// A worker's loop: run() blocks in the poller's own epoll_wait and returns once nothing is
// left. The loop's clock is the time of the event, not of before the wait: a connection
// stamps its last activity with uv_now(), and a stale clock would end idle timeouts early.
TEST_F(IoPollerTest, DrivingModeSeesTheTimeOfTheEventAndEndsWhenNothingIsLeft) {
  IoPoller poller(loop(), IoPoller::Mode::kDriving);
  Reader r;
  r.close_on_read = true;
  watch(r, poller, pair_.a, EPOLLIN);
  ASSERT_NE(r.token, 0u);
  pair_.a = -1;  // the reader closes it
  std::atomic<uint64_t> written_ms{0};
  std::thread writer([&] {
    // The subject is a wait that sleeps: the poller must block for a while first.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    written_ms = uv_hrtime() / 1000000;
    EXPECT_EQ(::write(pair_.b, "x", 1), 1);
  });
  const uint64_t busy_poll = 0;
  const double cpu_before = threadCpuMs();
  poller.run(&busy_poll);  // returns after the reader removed the only registration
  const double cpu_ms = threadCpuMs() - cpu_before;
  writer.join();
  EXPECT_EQ(r.calls, 1);
  // This loop has nothing alive, so uv_run() would not apply libuv's watcher queue: counting
  // that queue as work to do made the poller spin through the 100 ms instead of sleeping.
  EXPECT_LT(cpu_ms, 50) << "the poller spun instead of sleeping";
  // uv_now() is the loop's clock in whole milliseconds, from a coarse clock that may lag a few.
  EXPECT_GE(r.loop_now_ms + 10, written_ms.load())
      << "a clock of before the wait is ~100 ms behind";
}

// A deferred call that defers itself again, as a connection does while its peer keeps its
// socket full (Connection::readSome reads four buffers, then defers the rest): each round is
// one more call, up to kHogRounds, until the event it waits for has come.
constexpr int kHogRounds = 10'000;
struct Hog {
  IoPoller* poller = nullptr;
  int runs = 0;
  bool stop = false;
  static void run(void* p) {
    auto* self = static_cast<Hog*>(p);
    ++self->runs;
    if (!self->stop && self->runs < kHogRounds) {
      self->poller->defer(&Hog::run, self);
    }
  }
};

// Reads `fd` once, notes how often the hog had run by then, stops it and ends.
struct HogWatcher : IoWatch {
  IoPoller* poller = nullptr;
  Hog* hog = nullptr;
  uint64_t token = 0;
  int fd = -1;
  int hog_runs_seen = -1;
  HogWatcher() {
    on_io = [](IoWatch* w, uint32_t) {
      auto* self = static_cast<HogWatcher*>(w);
      self->hog_runs_seen = self->hog->runs;
      self->hog->stop = true;
      self->poller->remove(self->token, self->fd);
    };
  }
};

// `w` watches `fd` for the event that stops `hog`, which is deferred for its first round.
void startHog(IoPoller& poller, Hog& hog, HogWatcher& w, int fd) {
  hog.poller = &poller;
  w.poller = &poller;
  w.hog = &hog;
  w.fd = fd;
  w.token = poller.add(fd, EPOLLIN, &w);
  ASSERT_NE(w.token, 0u);
  poller.defer(&Hog::run, &hog);
}

// Deferred calls that keep deferring themselves must not keep the loop from its events: what a
// deferred call defers waits for the next turn, after an epoll_wait that does not sleep. The
// loop used to run deferred calls until none was left, so one peer that kept its socket full
// kept every other connection of its worker (and its timers) waiting.
TEST_F(IoPollerTest, DrivingModeSeesEventsWhileDeferredCallsKeepDeferring) {
  IoPoller poller(loop(), IoPoller::Mode::kDriving);
  Hog hog;
  HogWatcher w;
  startHog(poller, hog, w, pair_.a);
  ASSERT_EQ(::write(pair_.b, "x", 1), 1);
  const uint64_t busy_poll = 0;
  poller.run(&busy_poll);  // returns once the watcher has removed the only registration
  poller.runDeferred();
  ASSERT_GE(w.hog_runs_seen, 0) << "the event never came";
  EXPECT_LE(w.hog_runs_seen, 3) << "the deferred calls ran " << w.hog_runs_seen
                                << " rounds before the loop looked at its events";
  EXPECT_LT(hog.runs, kHogRounds);
}

// The same in nested mode (the main loop, where the admin listener is): one round of deferred
// calls per libuv turn, and no sleep in the poll while the next round waits.
TEST_F(IoPollerTest, NestedModeSeesEventsWhileDeferredCallsKeepDeferring) {
  IoPoller poller(loop(), IoPoller::Mode::kNested);
  Hog hog;
  HogWatcher w;
  startHog(poller, hog, w, pair_.a);
  uv_run(loop(), UV_RUN_NOWAIT);  // the hog starts, with nothing to read yet
  const int runs_before = hog.runs;
  ASSERT_EQ(::write(pair_.b, "x", 1), 1);
  uv_run(loop(), UV_RUN_DEFAULT);  // ends once the watcher is gone and the hog has stopped
  ASSERT_GE(w.hog_runs_seen, 0) << "the event never came";
  EXPECT_LE(runs_before, 3);
  EXPECT_LE(w.hog_runs_seen - runs_before, 3)
      << "the deferred calls ran " << w.hog_runs_seen - runs_before
      << " rounds before the loop looked at its events";
  EXPECT_LT(hog.runs, kHogRounds);
}

// A worker frees its listeners right after run() returns, and a connection's destruction is a
// deferred call: run() must not return while one is still waiting, even one deferred by a
// deferred call, which now waits for the next turn.
TEST_F(IoPollerTest, DrivingModeRunsWhatIsDeferredBeforeItReturns) {
  IoPoller poller(loop(), IoPoller::Mode::kDriving);
  struct Closer : IoWatch {
    IoPoller* poller = nullptr;
    uint64_t token = 0;
    bool destroyed = false;
  } w;
  w.poller = &poller;
  w.on_io = [](IoWatch* iw, uint32_t) {
    auto* self = static_cast<Closer*>(iw);
    self->poller->remove(self->token);
    // As Connection::finish() defers destroy, from a call that was itself deferred.
    self->poller->defer(
        [](void* p) {
          auto* c = static_cast<Closer*>(p);
          c->poller->defer([](void* q) { static_cast<Closer*>(q)->destroyed = true; }, c);
        },
        self);
  };
  w.token = poller.add(pair_.a, EPOLLIN, &w);
  ASSERT_NE(w.token, 0u);
  ASSERT_EQ(::write(pair_.b, "x", 1), 1);
  const uint64_t busy_poll = 0;
  poller.run(&busy_poll);
  EXPECT_TRUE(w.destroyed);
}

// In nested mode a call deferred from a timer's callback (which libuv runs before its poll)
// must not wait for the next event: the poll must not sleep while calls wait. Here nothing but
// a guard timer 2 s later would wake it, so a call that waited runs 2 s late.
TEST_F(IoPollerTest, NestedModeRunsACallDeferredFromATimerWithoutWaitingForAnEvent) {
  IoPoller poller(loop(), IoPoller::Mode::kNested);
  struct State {
    IoPoller* poller = nullptr;
    uv_loop_t* loop = nullptr;
    uint64_t token = 0;
    uint64_t ran_at_ms = 0;
  } st;
  st.poller = &poller;
  st.loop = loop();
  IoWatch quiet;  // a registration that gets no event: it keeps the loop waiting
  quiet.on_io = [](IoWatch*, uint32_t) {};
  st.token = poller.add(pair_.a, EPOLLIN, &quiet);
  ASSERT_NE(st.token, 0u);
  uv_timer_t timer;
  uv_timer_t guard;
  uv_timer_init(loop(), &timer);
  uv_timer_init(loop(), &guard);
  timer.data = &st;
  uv_update_time(loop());
  const uint64_t start_ms = uv_now(loop());
  uv_timer_start(
      &timer,
      [](uv_timer_t* t) {
        auto* s = static_cast<State*>(t->data);
        s->poller->defer(
            [](void* p) {
              auto* s2 = static_cast<State*>(p);
              s2->ran_at_ms = uv_now(s2->loop);
              s2->poller->remove(s2->token);  // nothing keeps the loop now
            },
            s);
      },
      1, 0);
  uv_timer_start(
      &guard, [](uv_timer_t*) {}, 2000, 0);
  uv_unref(reinterpret_cast<uv_handle_t*>(&guard));  // it wakes the poll, but keeps no loop
  uv_run(loop(), UV_RUN_DEFAULT);
  ASSERT_NE(st.ran_at_ms, 0u);
  EXPECT_LT(st.ran_at_ms - start_ms, 1000u) << "the deferred call waited for the next wake-up";
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&guard), nullptr);
  uv_run(loop(), UV_RUN_DEFAULT);
}

}  // namespace
