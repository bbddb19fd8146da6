#include "handlers/dns/zone.h"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "handlers/dns/wire.h"

namespace portd::handlers::dns {

const RRset* Node::find(uint16_t type) const {
  for (const RRset& s : rrsets) {
    if (s.type == type) {
      return &s;
    }
  }
  return nullptr;
}

const Node* Zone::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &nodes_[it->second];
}

std::string_view parentName(std::string_view name) {
  if (name.size() <= 1) {
    return name;
  }
  return name.substr(1 + static_cast<uint8_t>(name[0]));
}

bool isSubdomain(std::string_view name, std::string_view suffix) {
  // Walk name's label boundaries: comparing only there keeps "xexample." from matching
  // "example.".
  while (name.size() > suffix.size()) {
    name = parentName(name);
  }
  return name == suffix;
}

const Zone* ZoneSet::findZone(std::string_view name) const {
  const Zone* best = nullptr;
  for (const Zone& z : zones_) {
    if ((best == nullptr || z.apex_.size() > best->apex_.size()) && isSubdomain(name, z.apex_)) {
      best = &z;
    }
  }
  return best;
}

namespace {

[[noreturn]] void fail(const Record& r, const std::string& why) {
  throw std::runtime_error(r.where + ": " + why);
}

}  // namespace

ZoneSet ZoneSet::build(std::vector<Record> records) {
  ZoneSet set;
  for (const Record& r : records) {
    if (r.type != kSOA) {
      continue;
    }
    for (const Zone& z : set.zones_) {
      if (z.apex_ == r.owner) {
        fail(r, "a second SOA record for the same zone");
      }
    }
    Zone z;
    z.apex_ = r.owner;
    set.zones_.push_back(std::move(z));
  }
  if (set.zones_.empty()) {
    throw std::runtime_error("no SOA record: every zone needs one at its apex");
  }
  // Group the records by zone, then by owner, then by type; a std::map keeps it simple and
  // only runs when the configuration loads.
  std::vector<std::map<std::string, std::map<uint16_t, std::vector<Record>>>> grouped(
      set.zones_.size());
  for (Record& r : records) {
    const Zone* z = set.findZone(r.owner);
    if (z == nullptr) {
      fail(r, "the name is in no zone (no SOA record at or above it)");
    }
    const size_t zi = static_cast<size_t>(z - set.zones_.data());
    if (r.type == kNS && r.owner != z->apex_) {
      fail(r, "NS records below a zone's apex (delegations) are not supported");
    }
    std::vector<Record>& same = grouped[zi][r.owner][r.type];
    bool duplicate = false;
    for (const Record& o : same) {
      duplicate = duplicate || o.rdata == r.rdata;
    }
    if (r.type == kCNAME && !same.empty() && !duplicate) {
      fail(r, "a second CNAME record for the same name");
    }
    if (r.type == kSOA && r.owner != z->apex_) {
      fail(r, "a SOA record below the apex of another zone");
    }
    if (!duplicate) {
      same.push_back(std::move(r));
    }
  }
  for (size_t zi = 0; zi < set.zones_.size(); ++zi) {
    Zone& z = set.zones_[zi];
    for (auto& [owner, types] : grouped[zi]) {
      if (types.count(kCNAME) != 0 && types.size() > 1) {
        fail(types.at(kCNAME).front(), "a CNAME record beside other data for the same name");
      }
      Node n;
      n.name = owner;
      for (auto& [type, recs] : types) {
        n.rrsets.push_back(RRset{type, std::move(recs)});
      }
      z.index_.emplace(owner, z.nodes_.size());
      z.nodes_.push_back(std::move(n));
    }
    // Empty non-terminals: a name with nothing of its own but a descendant exists, and is
    // answered NODATA rather than NXDOMAIN (RFC 8020).
    const size_t owners = z.nodes_.size();
    for (size_t i = 0; i < owners; ++i) {
      // A copy: pushing nodes moves the ones already there.
      std::string name = z.nodes_[i].name;
      while (name.size() > z.apex_.size()) {
        name = std::string(parentName(name));
        if (z.index_.find(name) != z.index_.end()) {
          break;
        }
        z.index_.emplace(name, z.nodes_.size());
        z.nodes_.push_back(Node{name, {}});
      }
    }
    const Node* apex = z.find(z.apex_);
    z.soa_ = &apex->find(kSOA)->records.front();
    const std::string& rd = z.soa_->rdata;
    const uint32_t minimum = get32(reinterpret_cast<const uint8_t*>(rd.data() + rd.size() - 4));
    z.negative_ttl_ = std::min(z.soa_->ttl, minimum);
  }
  return set;
}

}  // namespace portd::handlers::dns
