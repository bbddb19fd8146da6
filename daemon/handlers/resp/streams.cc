// Streams: XADD (ids generated as milliseconds-sequence, or given) and XLEN.

#include <charconv>
#include <chrono>

#include "handlers/resp/command_table.h"

namespace portd::handlers::resp::cmd {

namespace {

constexpr std::string_view kInvalidId =
    "ERR Invalid stream ID specified as stream command argument";

bool parseU64(std::string_view s, uint64_t* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && ec == std::errc{} && end == s.data() + s.size();
}

// "ms-seq", "ms" (seq 0, or the next one after the top item with the same ms) or "ms-*".
bool parseId(std::string_view s, uint64_t* ms, uint64_t* seq, bool* auto_seq) {
  const size_t dash = s.find('-');
  *auto_seq = false;
  if (!parseU64(s.substr(0, dash), ms)) {
    return false;
  }
  if (dash == std::string_view::npos) {
    *seq = 0;
    return true;
  }
  if (s.substr(dash + 1) == "*") {
    *auto_seq = true;
    return true;
  }
  return parseU64(s.substr(dash + 1), seq);
}

}  // namespace

// XADD key [NOMKSTREAM] [MAXLEN [=|~] n] *|id field value [field value ...]
void xadd(Context& ctx, Args args) {
  size_t i = 2;
  bool nomkstream = false;
  int64_t maxlen = -1;
  while (i < args.size()) {
    if (equalsLower(args[i], "nomkstream")) {
      nomkstream = true;
      ++i;
    } else if (equalsLower(args[i], "maxlen") && i + 1 < args.size()) {
      ++i;
      if ((args[i] == "=" || args[i] == "~") && i + 1 < args.size()) {
        ++i;
      }
      if (!parseInt64(args[i], &maxlen) || maxlen < 0) {
        ctx.reply.error("ERR The MAXLEN argument must be >= 0.");
        return;
      }
      ++i;
    } else {
      break;
    }
  }
  if (i >= args.size() || (args.size() - i - 1) < 2 || (args.size() - i - 1) % 2 != 0) {
    arityError(ctx, "xadd");
    return;
  }
  const std::string_view id = args[i];
  uint64_t ms = 0;
  uint64_t seq = 0;
  bool auto_seq = false;
  const bool generate = id == "*";
  if (!generate && !parseId(id, &ms, &seq, &auto_seq)) {
    ctx.reply.error(kInvalidId);
    return;
  }
  if (!generate && !auto_seq && ms == 0 && seq == 0) {
    ctx.reply.error("ERR The ID specified in XADD must be greater than 0-0");
    return;
  }
  KeyRef ref(ctx.store, args[1], ctx.clock);
  KeyRef::Status status;
  Entry* e =
      nomkstream ? ref.find(Type::kStream, &status) : ref.findOrCreate(Type::kStream, &status);
  if (status != KeyRef::Status::kOk) {
    statusError(ctx, status);
    return;
  }
  if (e == nullptr) {
    ctx.reply.null();
    return;
  }
  Stream& s = e->as<Stream>();
  const bool empty = s.last_ms == 0 && s.last_seq == 0;
  if (generate) {
    ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
    auto_seq = true;
  }
  if (auto_seq) {
    if (!empty && ms <= s.last_ms) {
      if (generate) {
        ms = s.last_ms;  // the clock went back, or several in one millisecond
      } else if (ms < s.last_ms) {
        ctx.reply.error(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item");
        return;
      }
      if (s.last_seq == UINT64_MAX) {
        ctx.reply.error(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item");
        return;
      }
      seq = s.last_seq + 1;
    } else {
      seq = ms == 0 ? 1 : 0;
    }
  } else if (!empty && (ms < s.last_ms || (ms == s.last_ms && seq <= s.last_seq))) {
    ctx.reply.error(
        "ERR The ID specified in XADD is equal or smaller than the target stream top item");
    return;
  }
  StreamEntry& entry = s.entries.emplace_back();
  entry.ms = ms;
  entry.seq = seq;
  int64_t bytes = static_cast<int64_t>(kElementOverhead);
  entry.fields.reserve(args.size() - i - 1);
  for (size_t j = i + 1; j < args.size(); ++j) {
    entry.fields.emplace_back(args[j]);
    bytes += static_cast<int64_t>(kElementOverhead + args[j].size());
  }
  s.last_ms = ms;
  s.last_seq = seq;
  while (maxlen >= 0 && s.entries.size() > static_cast<uint64_t>(maxlen)) {
    bytes -= static_cast<int64_t>(kElementOverhead);
    for (const std::string& f : s.entries.front().fields) {
      bytes -= static_cast<int64_t>(kElementOverhead + f.size());
    }
    s.entries.pop_front();
  }
  ref.charge(e, bytes);
  char buf[48];
  auto r1 = std::to_chars(buf, buf + 21, ms);
  *r1.ptr = '-';
  auto r2 = std::to_chars(r1.ptr + 1, buf + sizeof(buf), seq);
  ctx.reply.bulk(std::string_view(buf, static_cast<size_t>(r2.ptr - buf)));
}

void xlen(Context& ctx, Args args) {
  KeyRef ref(ctx.store, args[1], ctx.clock);
  KeyRef::Status status;
  Entry* e = ref.find(Type::kStream, &status);
  if (status != KeyRef::Status::kOk) {
    statusError(ctx, status);
  } else {
    ctx.reply.integer(e == nullptr ? 0 : static_cast<int64_t>(e->as<Stream>().entries.size()));
  }
}

}  // namespace portd::handlers::resp::cmd
