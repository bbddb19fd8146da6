// Fuzz target for the dns handler's master-file parser and zone building
// (daemon/handlers/dns/master_file.h, zone.h): the input is a zone file. Whatever it holds,
// parsing either gives records or throws std::runtime_error with a "SOURCE:LINE: " message
// (or the one message about a missing SOA); it never crashes, never throws anything else, and
// never gives more records than the limit. Zones built from what parsed answer lookups of each
// record's owner.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "handlers/dns/master_file.h"
#include "handlers/dns/zone.h"

using namespace portd::handlers::dns;

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_dns_zone: invariant broken: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  constexpr size_t kMax = 64;
  std::vector<Record> records;
  try {
    parseMasterFile(text, "f", kMax, &records);
  } catch (const std::runtime_error& e) {
    check(std::string(e.what()).rfind("f:", 0) == 0, "an error that names no line");
    return 0;
  }
  check(records.size() <= kMax, "more records than the limit");
  std::vector<std::string> owners;
  for (const Record& r : records) {
    check(!r.owner.empty() && r.owner.size() <= 255, "an owner name of a bad length");
    owners.push_back(r.owner);
  }
  try {
    const ZoneSet set = ZoneSet::build(std::move(records));
    for (const std::string& o : owners) {
      const Zone* z = set.findZone(o);
      check(z != nullptr && z->find(o) != nullptr, "a record's owner is not found");
    }
  } catch (const std::runtime_error&) {
  }
  return 0;
}
