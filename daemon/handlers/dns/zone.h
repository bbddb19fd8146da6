#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

// The zones a dns listener serves, built once when its configuration loads and read-only after:
// every worker looks names up in the same ZoneSet without a lock.
namespace portd::handlers::dns {

// One resource record as a zone file gives it. Names (owner and those inside rdata) are in wire
// form, uncompressed; owners are lowercased, rdata keeps the case it was written in.
struct Record {
  std::string owner;
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::string rdata;
  std::string where;  // "FILE:LINE", for errors found when the zones are put together
};

struct RRset {
  uint16_t type = 0;
  std::vector<Record> records;
};

struct Node {
  std::string name;           // lowercased wire form
  std::vector<RRset> rrsets;  // sorted by type; empty for an empty non-terminal (RFC 8020)

  const RRset* find(uint16_t type) const;
};

class Zone {
 public:
  const std::string& apex() const { return apex_; }
  const Record& soa() const { return *soa_; }
  // The TTL of a negative answer's SOA: the smaller of its TTL and MINIMUM (RFC 2308 5).
  uint32_t negativeTtl() const { return negative_ttl_; }
  // The node of `name` (lowercased wire form, inside this zone), or nullptr.
  const Node* find(std::string_view name) const;
  size_t nodeCount() const { return nodes_.size(); }

 private:
  friend class ZoneSet;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::string apex_;
  std::vector<Node> nodes_;
  std::unordered_map<std::string, size_t, Hash, std::equal_to<>> index_;
  const Record* soa_ = nullptr;
  uint32_t negative_ttl_ = 0;
};

class ZoneSet {
 public:
  // Puts records together into zones: each SOA starts a zone at its owner, and every record
  // belongs to the zone whose apex is its closest ancestor. Throws std::runtime_error
  // ("FILE:LINE: reason") for a record outside every zone, a second SOA at one apex, a CNAME
  // beside other data, an NS record below an apex (delegations are not served), or no zone.
  static ZoneSet build(std::vector<Record> records);

  // The zone that holds `name` (lowercased wire form), the deepest one if zones nest; nullptr
  // outside every zone.
  const Zone* findZone(std::string_view name) const;
  std::span<const Zone> zones() const { return zones_; }

 private:
  std::vector<Zone> zones_;
};

// Whether wire-form `name` equals `suffix` or ends with it at a label boundary.
bool isSubdomain(std::string_view name, std::string_view suffix);

// The parent of a wire-form name (the name without its first label); the root is its own.
std::string_view parentName(std::string_view name);

}  // namespace portd::handlers::dns
