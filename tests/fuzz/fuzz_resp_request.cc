// Fuzz target for the resp handler's request parser and commands (daemon/handlers/resp/): the
// input is what a client sends. It is fed in two reads split at a point derived from the input,
// as the handler does (the unparsed tail kept for the next read), and every command is run
// against a store with small limits. Any broken invariant aborts:
//  - parse() never uses more bytes than it was given, and asks for more only beyond them;
//  - the commands and the replies are the same whether the input came whole or in two reads;
//  - every reply is well-formed RESP (a type byte, CRLF-terminated), and the store stays
//    within its limits (one command over at most) and counts back to zero after FLUSHALL.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/resp/commands.h"
#include "handlers/resp/request_parser.h"

using namespace portd::handlers::resp;

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_resp_request: invariant broken: %s\n", what);
    std::abort();
  }
}

constexpr Store::Limits kLimits{16, 4096};

ParserLimits smallLimits() {
  ParserLimits l;
  l.max_bulk = 256;
  l.max_multibulk = 16;
  l.max_inline = 256;
  return l;
}

// Runs the pieces as successive reads; returns every reply, and where an error ended it.
std::string run(const std::vector<std::string_view>& pieces) {
  Store store(2, true, kLimits);
  ServerInfo info;
  RequestParser parser(smallLimits());
  std::vector<std::string_view> args;
  std::string out;
  Context ctx{store, Reply(&out), Clock(), info, 1};
  ctx.clock.set(1000);
  std::string kept;
  for (std::string_view piece : pieces) {
    // A heap copy per read, so that AddressSanitizer sees a look past its end.
    kept.append(piece);
    const std::string buffer = kept;
    std::string_view rest(buffer);
    while (!rest.empty()) {
      const auto r = parser.parse(rest, &args);
      if (r.status == RequestParser::Status::kNeedMore) {
        check(r.need > rest.size(), "asked for bytes it already had");
        break;
      }
      if (r.status == RequestParser::Status::kError) {
        out += "-" + std::string(r.error) + "\r\n<closed>";
        return out;
      }
      check(r.used > 0 && r.used <= rest.size(), "used no bytes, or more than given");
      rest.remove_prefix(r.used);
      if (args.empty()) {
        continue;
      }
      const size_t before = out.size();
      execute(ctx, args);
      check(out.size() > before + 2, "no reply");
      check(out.compare(out.size() - 2, 2, "\r\n") == 0, "a reply not ended by CRLF");
      check(std::string_view("+-:$*").find(out[before]) != std::string_view::npos,
            "a reply of no RESP type");
      check(store.keys() <= kLimits.max_keys + 1, "max_keys passed by more than one");
      check(store.usedMemory() <= kLimits.max_memory + 2 * smallLimits().max_inline + 4096,
            "max_memory passed by more than a command");
      if (ctx.close_after) {
        return out + "<quit>";
      }
    }
    kept = std::string(rest);
  }
  Context end{store, Reply(&out), Clock(), info, 1};
  const std::string_view flush[] = {"FLUSHALL"};
  execute(end, flush);
  check(store.keys() == 0 && store.usedMemory() == 0, "bytes or keys left after FLUSHALL");
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // XADD's "*" ids and INFO's uptime read clocks: they are the same length whole or split, so
  // replies are compared after removing digits.
  auto digitless = [](std::string s) {
    std::string t;
    for (char c : s) {
      if (c < '0' || c > '9') {
        t.push_back(c);
      }
    }
    return t;
  };
  const std::string whole = run({input});
  if (size >= 2) {
    uint32_t hash = 2166136261u;
    for (unsigned char c : input) {
      hash = (hash ^ c) * 16777619u;
    }
    const size_t at = 1 + hash % (size - 1);
    const std::string two = run({input.substr(0, at), input.substr(at)});
    check(digitless(two) == digitless(whole), "two reads answered differently from one");
  }
  return 0;
}
