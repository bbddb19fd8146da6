// Lists.

#include <algorithm>

#include "handlers/resp/command_table.h"

namespace portd::handlers::resp::cmd {

namespace {

void push(Context& ctx, Args args, bool front) {
  KeyRef ref(ctx.store, args[1], ctx.clock);
  KeyRef::Status status;
  Entry* e = ref.findOrCreate(Type::kList, &status);
  if (e == nullptr) {
    statusError(ctx, status);
    return;
  }
  List& list = e->as<List>();
  int64_t bytes = 0;
  for (size_t i = 2; i < args.size(); ++i) {
    if (front) {
      list.emplace_front(args[i]);
    } else {
      list.emplace_back(args[i]);
    }
    bytes += static_cast<int64_t>(kElementOverhead + args[i].size());
  }
  ref.charge(e, bytes);
  ctx.reply.integer(static_cast<int64_t>(list.size()));
}

void pop(Context& ctx, Args args, bool front) {
  if (args.size() > 3) {
    arityError(ctx, front ? "lpop" : "rpop");
    return;
  }
  int64_t count = -1;
  if (args.size() == 3 && (!parseInt64(args[2], &count) || count < 0)) {
    ctx.reply.error("ERR value is out of range, must be positive");
    return;
  }
  KeyRef ref(ctx.store, args[1], ctx.clock);
  KeyRef::Status status;
  Entry* e = ref.find(Type::kList, &status);
  if (status != KeyRef::Status::kOk) {
    statusError(ctx, status);
    return;
  }
  if (e == nullptr) {
    if (count < 0) {
      ctx.reply.null();
    } else {
      ctx.reply.nullArray();
    }
    return;
  }
  List& list = e->as<List>();
  const size_t n = count < 0 ? 1 : std::min(list.size(), static_cast<size_t>(count));
  if (count >= 0) {
    ctx.reply.array(n);
  }
  int64_t bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    std::string& s = front ? list.front() : list.back();
    ctx.reply.bulk(s);
    bytes += static_cast<int64_t>(kElementOverhead + s.size());
    if (front) {
      list.pop_front();
    } else {
      list.pop_back();
    }
  }
  ref.charge(e, -bytes);
  ref.eraseIfEmpty(e);
}

}  // namespace

void lpush(Context& ctx, Args args) { push(ctx, args, true); }
void rpush(Context& ctx, Args args) { push(ctx, args, false); }
void lpop(Context& ctx, Args args) { pop(ctx, args, true); }
void rpop(Context& ctx, Args args) { pop(ctx, args, false); }

void lrange(Context& ctx, Args args) {
  int64_t start = 0;
  int64_t stop = 0;
  if (!parseInt64(args[2], &start) || !parseInt64(args[3], &stop)) {
    ctx.reply.error(kNotInteger);
    return;
  }
  KeyRef ref(ctx.store, args[1], ctx.clock);
  KeyRef::Status status;
  Entry* e = ref.find(Type::kList, &status);
  if (status != KeyRef::Status::kOk) {
    statusError(ctx, status);
    return;
  }
  if (e == nullptr) {
    ctx.reply.emptyArray();
    return;
  }
  const List& list = e->as<List>();
  const int64_t size = static_cast<int64_t>(list.size());
  if (start < 0) {
    start = std::max<int64_t>(size + start, 0);
  }
  if (stop < 0) {
    stop = size + stop;
  }
  stop = std::min(stop, size - 1);
  if (start > stop || start >= size) {
    ctx.reply.emptyArray();
    return;
  }
  ctx.reply.array(static_cast<size_t>(stop - start + 1));
  for (auto it = list.begin() + start, end = list.begin() + stop + 1; it != end; ++it) {
    ctx.reply.bulk(*it);
  }
}

void llen(Context& ctx, Args args) {
  KeyRef ref(ctx.store, args[1], ctx.clock);
  KeyRef::Status status;
  Entry* e = ref.find(Type::kList, &status);
  if (status != KeyRef::Status::kOk) {
    statusError(ctx, status);
  } else {
    ctx.reply.integer(e == nullptr ? 0 : static_cast<int64_t>(e->as<List>().size()));
  }
}

}  // namespace portd::handlers::resp::cmd
