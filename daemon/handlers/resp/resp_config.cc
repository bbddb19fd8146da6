#include "handlers/resp/resp_config.h"

#include <string>

namespace portd::handlers::resp {

namespace {

uint32_t percentOption(const sdk::Options& o, const char* name) {
  uint32_t ppm = 0;
  if (!parsePercent(o.getString(name), &ppm)) {
    throw sdk::ConfigError(std::string(name) +
                           ": expected a percentage from 0 to 100 with at most four decimals, "
                           "e.g. \"2.5\"");
  }
  return ppm;
}

template <typename T>
T inRange(const char* name, T value, T min, T max, const char* range) {
  if (value < min || value > max) {
    throw sdk::ConfigError(std::string(name) + ": must be " + range);
  }
  return value;
}

}  // namespace

Config::Config(const sdk::Options& o) {
  limits.max_bulk = inRange<uint64_t>("max_bulk_length", o.getSize("max_bulk_length"), 1,
                                      4ull << 30, "between 1 byte and 4GiB");
  limits.max_multibulk = static_cast<uint64_t>(
      inRange<int64_t>("max_multibulk_length", o.getInt("max_multibulk_length"), 1, INT32_MAX,
                       "between 1 and 2147483647"));
  limits.max_inline = inRange<uint64_t>("max_inline_length", o.getSize("max_inline_length"), 16,
                                        16ull << 20, "between 16 bytes and 16MiB");
  store_limits.max_keys = static_cast<uint64_t>(
      inRange<int64_t>("max_keys", o.getInt("max_keys"), 1, INT64_MAX, "at least 1"));
  store_limits.max_memory =
      inRange<uint64_t>("max_memory", o.getSize("max_memory"), 1024, UINT64_MAX, "at least 1KiB");
  shared = o.getBool("shared");
  shards = static_cast<size_t>(
      inRange<int64_t>("shards", o.getInt("shards"), 1, 4096, "between 1 and 4096"));

  knobs.delay_ms = o.getDurationMs("fault_delay");
  knobs.delay_ppm = percentOption(o, "fault_delay_percent");
  if (knobs.delay_ms > 60'000) {
    throw sdk::ConfigError("fault_delay: must be at most 60s");
  }
  if (knobs.delay_ppm != 0 && knobs.delay_ms == 0) {
    throw sdk::ConfigError("fault_delay: must be above 0 when fault_delay_percent is set");
  }
  knobs.error_ppm = percentOption(o, "fault_error_percent");
  knobs.error_reply = std::string(o.getString("fault_error_reply"));
  if (knobs.error_reply.empty() || knobs.error_reply.size() > 512 ||
      knobs.error_reply.find_first_of("\r\n") != std::string::npos) {
    throw sdk::ConfigError("fault_error_reply: must be 1 to 512 bytes on one line");
  }
  knobs.close_ppm = percentOption(o, "fault_close_percent");
  knobs.seed = static_cast<uint64_t>(o.getInt("fault_seed"));

  if (shared) {
    shared_store = std::make_unique<Store>(shards, true, store_limits);
  }
}

const portd_option_def kOptions[] = {
    {"shared", PORTD_OPT_BOOL, "false",
     "one store for every worker (sharded, a lock per shard), so that a key set on one "
     "connection is seen on all; otherwise each worker has its own"},
    {"shards", PORTD_OPT_INT, "64", "the shared store's shards, each with its own lock"},
    {"max_keys", PORTD_OPT_INT, "1000000",
     "keys one store holds; a command that would add one more gets -OOM"},
    {"max_memory", PORTD_OPT_SIZE, "\"256MiB\"",
     "bytes one store holds, as estimated from keys and values; commands that can add data "
     "get -OOM beyond it"},
    {"max_bulk_length", PORTD_OPT_SIZE, "\"512MiB\"",
     "the longest argument ($N) a request may declare, as Redis's proto-max-bulk-len; "
     "a command is held whole until complete, so write_buffer_limit bounds it too"},
    {"max_multibulk_length", PORTD_OPT_INT, "1048576", "the most arguments (*N) of one command"},
    {"max_inline_length", PORTD_OPT_SIZE, "\"64KiB\"",
     "the longest inline command, and *N / $N line, as Redis's PROTO_INLINE_MAX_SIZE"},
    {"fault_delay", PORTD_OPT_DURATION, "\"0ms\"", "how late a delayed reply is sent"},
    {"fault_delay_percent", PORTD_OPT_STRING, "\"0\"",
     "the share of commands whose reply is sent fault_delay late, e.g. \"2.5\""},
    {"fault_error_percent", PORTD_OPT_STRING, "\"0\"",
     "the share of commands answered with fault_error_reply instead of being run"},
    {"fault_error_reply", PORTD_OPT_STRING, "\"ERR injected fault\"",
     "the error injected by fault_error_percent, without the leading '-'"},
    {"fault_close_percent", PORTD_OPT_STRING, "\"0\"",
     "the share of commands at which the connection is closed instead of answering"},
    {"fault_seed", PORTD_OPT_INT, "0",
     "seeds the fault draws (each worker its own sequence from it); 0: another sequence "
     "each start"},
};
const size_t kOptionCount = std::size(kOptions);

}  // namespace portd::handlers::resp
