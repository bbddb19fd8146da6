// The resp handler's commands against its store: replies byte for byte as Redis 7 gives them,
// the store's limits, lazy expiry, and a shared store used from two threads at once.

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "handlers/resp/commands.h"
#include "handlers/resp/request_parser.h"

namespace portd::handlers::resp {
namespace {

// Runs the commands of `input` (inline or multibulk) and returns every reply.
class Session {
 public:
  explicit Session(Store& store) : store_(store) {}

  std::string run(std::string_view input, int64_t now_ms = -1) {
    std::string out;
    RequestParser parser{ParserLimits{}};
    std::vector<std::string_view> args;
    Context ctx{store_, Reply(&out), Clock(), info_, 7};
    if (now_ms >= 0) {
      ctx.clock.set(now_ms);
    }
    while (!input.empty()) {
      const auto r = parser.parse(input, &args);
      if (r.status != RequestParser::Status::kCommand) {
        ADD_FAILURE() << "not a whole command: " << input;
        break;
      }
      input.remove_prefix(r.used);
      if (!args.empty()) {
        execute(ctx, args);
      }
    }
    return out;
  }

 private:
  Store& store_;
  ServerInfo info_;
};

Store::Limits bigLimits() { return Store::Limits{1000, 1 << 20}; }

TEST(RespCommandsTest, ServerCommands) {
  Store store(1, false, bigLimits());
  Session s(store);
  EXPECT_EQ(s.run("PING\r\n"), "+PONG\r\n");
  EXPECT_EQ(s.run("ping hi\r\n"), "$2\r\nhi\r\n");
  EXPECT_EQ(s.run("ping a b\r\n"), "-ERR wrong number of arguments for 'ping' command\r\n");
  EXPECT_EQ(s.run("ECHO x\r\n"), "$1\r\nx\r\n");
  EXPECT_EQ(s.run("echo\r\n"), "-ERR wrong number of arguments for 'echo' command\r\n");
  EXPECT_EQ(s.run("SELECT 0\r\n"), "+OK\r\n");
  EXPECT_EQ(s.run("SELECT 1\r\n"), "-ERR DB index is out of range\r\n");
  EXPECT_EQ(s.run("SELECT x\r\n"), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(s.run("HELLO 3\r\n"), "-NOPROTO unsupported protocol version\r\n");
  EXPECT_EQ(s.run("HELLO 2\r\n").substr(0, 4), "*14\r");
  EXPECT_EQ(s.run("CONFIG GET save\r\nCONFIG GET appendonly\r\nCONFIG GET maxmemory\r\n"),
            "*2\r\n$4\r\nsave\r\n$0\r\n\r\n*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n*0\r\n");
  EXPECT_EQ(s.run("CONFIG GET\r\n"), "-ERR wrong number of arguments for 'config|get' command\r\n");
  EXPECT_EQ(s.run("COMMAND DOCS\r\n"), "*0\r\n");
  EXPECT_EQ(s.run("QUIT\r\n"), "+OK\r\n");
  EXPECT_NE(s.run("INFO\r\n").find("redis_version:7"), std::string::npos);
}

TEST(RespCommandsTest, UnknownCommandIsRedis7sText) {
  Store store(1, false, bigLimits());
  Session s(store);
  EXPECT_EQ(s.run("foo a b\r\n"),
            "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
  EXPECT_EQ(s.run("foo\r\n"), "-ERR unknown command 'foo', with args beginning with: \r\n");
  // A CR or LF in a name or argument cannot break the reply line.
  EXPECT_EQ(s.run("*2\r\n$4\r\nf\r\no\r\n$1\r\n\n\r\n"),
            "-ERR unknown command 'f  o', with args beginning with: ' ' \r\n");
  // Arguments are listed until 128 bytes of them were.
  const std::string longArg(200, 'x');
  const std::string reply = s.run("foo " + longArg + " b\r\n");
  EXPECT_EQ(reply, "-ERR unknown command 'foo', with args beginning with: '" +
                       std::string(128, 'x') + "' \r\n");
}

TEST(RespCommandsTest, Strings) {
  Store store(1, false, bigLimits());
  Session s(store);
  EXPECT_EQ(s.run("GET k\r\n"), "$-1\r\n");
  EXPECT_EQ(s.run("SET k v\r\nGET k\r\n"), "+OK\r\n$1\r\nv\r\n");
  EXPECT_EQ(s.run("SET k w NX\r\nSET k2 w XX\r\nSET k x XX GET\r\n"), "$-1\r\n$-1\r\n$1\r\nv\r\n");
  EXPECT_EQ(s.run("SET k v EX 0\r\n"), "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(s.run("SET k v EX x\r\n"), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(s.run("SET k v NX XX\r\n"), "-ERR syntax error\r\n");
  EXPECT_EQ(s.run("SET k v EX 1 PX 1\r\n"), "-ERR syntax error\r\n");
  EXPECT_EQ(s.run("SET n 10\r\nINCR n\r\nDECR n\r\nINCRBY n 5\r\n"),
            "+OK\r\n:11\r\n:10\r\n:15\r\n");
  EXPECT_EQ(s.run("INCR k\r\n"), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(s.run("SET n 9223372036854775807\r\nINCR n\r\n"),
            "+OK\r\n-ERR increment or decrement would overflow\r\n");
  EXPECT_EQ(s.run("MSET a 1 b 2\r\nMGET a b zz\r\n"), "+OK\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n");
  EXPECT_EQ(s.run("MSET a 1 b\r\n"), "-ERR wrong number of arguments for 'mset' command\r\n");
  EXPECT_EQ(s.run("DEL a b zz\r\nEXISTS a k k\r\n"), ":2\r\n:2\r\n");
}

TEST(RespCommandsTest, ExpiryIsLazyAndHonoured) {
  Store store(1, false, bigLimits());
  Session s(store);
  EXPECT_EQ(s.run("SET k v PX 100\r\nPTTL k\r\n", 1000), "+OK\r\n:100\r\n");
  EXPECT_EQ(s.run("GET k\r\n", 1099), "$1\r\nv\r\n");
  EXPECT_EQ(store.keys(), 1u);
  EXPECT_EQ(s.run("GET k\r\nEXISTS k\r\n", 1100), "$-1\r\n:0\r\n");
  EXPECT_EQ(store.keys(), 0u);
  EXPECT_EQ(store.usedMemory(), 0u);
  // SET without KEEPTTL clears an expiry; with it, keeps it.
  EXPECT_EQ(s.run("SET k v EX 10\r\nSET k w\r\nTTL k\r\n", 0), "+OK\r\n+OK\r\n:-1\r\n");
  EXPECT_EQ(s.run("SET k v EX 10\r\nSET k w KEEPTTL\r\nTTL k\r\n", 0), "+OK\r\n+OK\r\n:10\r\n");
}

TEST(RespCommandsTest, CollectionsAndWrongType) {
  Store store(1, false, bigLimits());
  Session s(store);
  EXPECT_EQ(s.run("RPUSH l a b c\r\nLPUSH l z\r\nLRANGE l 0 -1\r\n"),
            ":3\r\n:4\r\n*4\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
  EXPECT_EQ(s.run("LRANGE l -2 10\r\nLRANGE l 5 9\r\n"), "*2\r\n$1\r\nb\r\n$1\r\nc\r\n*0\r\n");
  EXPECT_EQ(s.run("LPOP l\r\nRPOP l 2\r\nLPOP l\r\nEXISTS l\r\n"),
            "$1\r\nz\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n:0\r\n");
  EXPECT_EQ(s.run("LPOP l\r\nLPOP l 1\r\n"), "$-1\r\n*-1\r\n");
  EXPECT_EQ(s.run("SADD s a b a\r\nSCARD s\r\nSPOP s 5\r\nSPOP s\r\n").substr(0, 12),
            ":2\r\n:2\r\n*2\r\n");
  EXPECT_EQ(s.run("HSET h f v g w\r\nHSET h f x\r\nHGET h f\r\nHGET h zz\r\n"),
            ":2\r\n:0\r\n$1\r\nx\r\n$-1\r\n");
  EXPECT_EQ(s.run("HSET h f\r\n"), "-ERR wrong number of arguments for 'hset' command\r\n");
  EXPECT_EQ(s.run("ZADD z 2 b 1 a 1.5 c\r\nZPOPMIN z\r\nZPOPMIN z 5\r\nZPOPMIN z\r\n"),
            ":3\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*4\r\n$1\r\nc\r\n$3\r\n1.5\r\n$1\r\nb\r\n$1\r\n2\r\n"
            "*0\r\n");
  EXPECT_EQ(s.run("ZADD z x m\r\n"), "-ERR value is not a valid float\r\n");
  EXPECT_EQ(s.run("SET str v\r\nLPUSH str x\r\nSADD str x\r\nHGET str f\r\nZADD str 1 m\r\n"),
            "+OK\r\n"
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  EXPECT_EQ(s.run("LPUSH lst x\r\nGET lst\r\nINCR lst\r\n"),
            ":1\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
}

TEST(RespCommandsTest, StreamIds) {
  Store store(1, false, bigLimits());
  Session s(store);
  EXPECT_EQ(s.run("XADD st 5-1 f v\r\nXADD st 5-* f v\r\nXADD st 5-1 f v\r\nXLEN st\r\n"),
            "$3\r\n5-1\r\n$3\r\n5-2\r\n-ERR The ID specified in XADD is equal or smaller than "
            "the target stream top item\r\n:2\r\n");
  const std::string generated = s.run("XADD st * f v\r\n");
  EXPECT_EQ(generated.substr(0, 1), "$");
  EXPECT_NE(generated.find("-0\r\n"), std::string::npos) << generated;
  EXPECT_EQ(s.run("XADD st 0-0 f v\r\n"),
            "-ERR The ID specified in XADD must be greater than 0-0\r\n");
  EXPECT_EQ(s.run("XADD st * f\r\n"), "-ERR wrong number of arguments for 'xadd' command\r\n");
  EXPECT_EQ(s.run("XADD st MAXLEN 1 * f v\r\n").substr(0, 1), "$");
  EXPECT_EQ(s.run("XLEN st\r\n"), ":1\r\n");
}

TEST(RespCommandsTest, MaxKeysGivesOom) {
  Store store(1, false, Store::Limits{2, 1 << 20});
  Session s(store);
  const std::string oom = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";
  EXPECT_EQ(s.run("SET a 1\r\nSET b 2\r\nSET c 3\r\nLPUSH l x\r\n"), "+OK\r\n+OK\r\n" + oom + oom);
  // Overwriting and reading still work; removing a key makes room.
  EXPECT_EQ(s.run("SET a 9\r\nGET a\r\nDEL b\r\nSET c 3\r\n"), "+OK\r\n$1\r\n9\r\n:1\r\n+OK\r\n");
  EXPECT_EQ(s.run("DBSIZE\r\nFLUSHALL\r\nDBSIZE\r\n"), ":2\r\n+OK\r\n:0\r\n");
  EXPECT_EQ(store.usedMemory(), 0u);
}

TEST(RespCommandsTest, MaxMemoryGivesOomAndCountsAsItGoes) {
  Store store(1, false, Store::Limits{1000, 4096});
  Session s(store);
  const std::string value(1000, 'v');
  std::string replies;
  for (int i = 0; i < 6; ++i) {
    replies += s.run("SET k" + std::to_string(i) + " " + value + "\r\n");
  }
  EXPECT_NE(replies.find("-OOM"), std::string::npos) << replies;
  EXPECT_LE(store.usedMemory(), 4096u + 1000u + 128u);  // at most one command over
  // Reads and deletes are not refused; after a delete, writes go on.
  EXPECT_EQ(s.run("GET k0\r\n").substr(0, 6), "$1000\r");
  EXPECT_EQ(s.run("DEL k0 k1 k2\r\nSET x y\r\n"), ":3\r\n+OK\r\n");
  // Every byte counted in is counted out.
  s.run("RPUSH l a b\r\nSADD s a\r\nHSET h f v\r\nZADD z 1 m\r\nXADD x2 1-1 f v\r\n");
  s.run("FLUSHALL\r\n");
  EXPECT_EQ(store.usedMemory(), 0u);
  s.run("RPUSH l a b\r\nLPOP l 2\r\nSADD s a\r\nSPOP s\r\nZADD z 1 m\r\nZPOPMIN z\r\n");
  EXPECT_EQ(store.usedMemory(), 0u);
  EXPECT_EQ(store.keys(), 0u);
}

TEST(RespCommandsTest, SharedStoreFromTwoThreads) {
  Store store(16, true, Store::Limits{100000, 64 << 20});
  auto work = [&store](int id) {
    Session s(store);
    for (int i = 0; i < 2000; ++i) {
      const std::string key = "k" + std::to_string(i % 50);
      s.run("INCR counter\r\nSET " + key + " " + std::to_string(id) + "\r\nGET " + key +
            "\r\nLPUSH list x\r\nRPOP list\r\n");
    }
  };
  std::thread a(work, 1);
  std::thread b(work, 2);
  a.join();
  b.join();
  Session s(store);
  EXPECT_EQ(s.run("GET counter\r\n"), "$4\r\n4000\r\n");
  EXPECT_EQ(s.run("DBSIZE\r\n"), ":51\r\n");
}

}  // namespace
}  // namespace portd::handlers::resp
