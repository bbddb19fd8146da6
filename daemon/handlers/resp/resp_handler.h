#pragma once

#include <portd/handler.h>

namespace portd::handlers::resp {

// A Redis-protocol (RESP2) responder that redis-cli and redis-benchmark take for a Redis 7:
// strings, lists, sets, hashes, sorted sets and streams in memory, per worker or shared by
// all workers, bounded by max_keys and max_memory, with Redis's limits on requests and fault
// knobs for testing clients. See docs/resp.md.
const portd_handler_def& definition();

}  // namespace portd::handlers::resp
