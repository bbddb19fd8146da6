#pragma once

#include <atomic>
#include <memory>
#include <portd/handler.hpp>

#include "handlers/resp/knobs.h"
#include "handlers/resp/request_parser.h"
#include "handlers/resp/store.h"

namespace portd::handlers::resp {

// One listener's options, checked; and the store its workers share when `shared` is set.
struct Config {
  explicit Config(const sdk::Options& o);

  ParserLimits limits;
  Store::Limits store_limits;
  bool shared = false;
  size_t shards = 1;
  FaultKnobs knobs;
  // Only with `shared`: one store for every worker, behind a mutex per shard. Mutable through
  // the const Config the instances see, since the pointer is what is immutable.
  std::unique_ptr<Store> shared_store;
  // Numbers the instances, so that each worker draws its own fault sequence from fault_seed.
  mutable std::atomic<uint64_t> instances{0};
};

extern const portd_option_def kOptions[];
extern const size_t kOptionCount;

}  // namespace portd::handlers::resp
