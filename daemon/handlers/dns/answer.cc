#include "handlers/dns/answer.h"

#include <algorithm>
#include <string_view>

#include "handlers/dns/name_writer.h"
#include "handlers/dns/wire.h"

namespace portd::handlers::dns {

size_t udpLimit(const Query& q, const AnswerSettings& s) {
  if (!q.edns) {
    return kClassicUdp;
  }
  return std::clamp<size_t>(q.payload, kClassicUdp, std::max<size_t>(s.max_udp_payload, 512));
}

namespace {

std::string_view asView(const uint8_t* p, size_t n) {
  return {reinterpret_cast<const char*>(p), n};
}
const uint8_t* asBytes(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// Length of the wire-form name at p (uncompressed).
size_t nameLength(const uint8_t* p) {
  size_t n = 0;
  while (p[n] != 0) {
    n += 1 + p[n];
  }
  return n + 1;
}

class Builder {
 public:
  Builder(const AnswerSettings& s, const Query& q, uint8_t* out, size_t limit)
      : settings_(s), q_(q), w_(out, limit), limit_(limit) {}

  size_t run(const ZoneSet& zones, ParseResult parsed, Override override, AnswerInfo* info) {
    info_ = info;
    *info_ = AnswerInfo{};
    // Room for the OPT record is kept back from the start, so that it always fits.
    // OPT only when the query had a well-formed one (RFC 6891 7), whatever the RCODE.
    const bool opt = q_.edns;
    w_.setLimit(limit_ - (opt ? kOptSize : 0));
    writeHeader();
    const bool question = q_.has_question && writeQuestion();
    if (parsed == ParseResult::kFormErr || (parsed == ParseResult::kOk && !question)) {
      return finish(kFormErr, false, opt);
    }
    if (parsed == ParseResult::kNotImp) {
      return finish(kNotImp, false, opt);
    }
    if (q_.edns && q_.edns_version != 0) {
      return finish(kBadVers, false, opt);
    }
    if (override == Override::kServFail) {
      return finish(kServFail, false, opt);
    }
    if (override == Override::kTruncate) {
      return truncate(opt);
    }
    if (q_.qtype == kOPT) {
      return finish(kFormErr, false, opt);
    }
    if (q_.qtype == kMAILA || q_.qtype == kMAILB) {
      return finish(kNotImp, false, opt);
    }
    if ((q_.qclass != kClassIN && q_.qclass != kClassANY) || q_.qtype == kAXFR ||
        q_.qtype == kIXFR) {
      return finish(kRefused, false, opt);
    }
    for (size_t i = 0; i < q_.qname_len; ++i) {
      lower_[i] = lowerAscii(q_.qname[i]);
    }
    const Zone* zone = zones.findZone(asView(lower_, q_.qname_len));
    if (zone == nullptr) {
      return finish(kRefused, false, opt);
    }
    return lookup(*zone, opt);
  }

 private:
  void writeHeader() {
    w_.put16(q_.id);
    // QR, the opcode, RD and CD as the query had them; AA and the RCODE are set by finish().
    w_.put16(static_cast<uint16_t>(kFlagQR | (q_.flags & (0x7800 | kFlagRD | kFlagCD))));
    const uint8_t zero[8] = {};
    w_.put(zero, 8);
  }

  bool writeQuestion() {
    // As the client wrote it (case included), uncompressed: it starts at offset 12, where every
    // later name that is the question's points.
    return w_.putName(q_.qname, q_.qname_len, false) && w_.put16(q_.qtype) && w_.put16(q_.qclass);
  }

  size_t lookup(const Zone& zone, bool opt) {
    const uint8_t* owner = q_.qname;  // the current name, in the case it is written
    std::string_view name = asView(lower_, q_.qname_len);
    const Node* seen[kMaxCnameChain + 1];
    for (int hop = 0; hop <= kMaxCnameChain; ++hop) {
      const Node* node = zone.find(name);
      // A CNAME loop ends where it comes back: each record is in the answer once.
      if (std::find(seen, seen + hop, node) != seen + hop) {
        break;
      }
      seen[hop] = node;
      if (node == nullptr) {
        node = wildcard(zone, name);
        if (node == nullptr) {
          return negative(zone, kNxDomain, opt);
        }
      }
      const RRset* cname = node->find(kCNAME);
      if (cname != nullptr && q_.qtype != kCNAME) {
        const Record& r = cname->records.front();
        if (!putRecord(owner, r)) {
          return truncate(opt);
        }
        ++answers_;
        owner = asBytes(r.rdata);
        const size_t len = r.rdata.size();
        for (size_t i = 0; i < len; ++i) {
          lower_[i] = lowerAscii(owner[i]);
        }
        name = asView(lower_, len);
        if (!isSubdomain(name, zone.apex())) {
          break;  // another zone's name: the client asks again for it
        }
        continue;
      }
      const RRset* set = q_.qtype == kANY ? (node->rrsets.empty() ? nullptr : &node->rrsets.front())
                                          : node->find(q_.qtype);
      if (set == nullptr) {
        return negative(zone, kNoError, opt);
      }
      for (const Record& r : set->records) {
        if (!putRecord(owner, r)) {
          return truncate(opt);
        }
        ++answers_;
      }
      break;
    }
    return finish(kNoError, true, opt);
  }

  // The wildcard that covers `name` (RFC 4592): "*." under the closest encloser, the deepest
  // existing ancestor. Empty non-terminals exist, so they stop the search as they should.
  const Node* wildcard(const Zone& zone, std::string_view name) {
    std::string_view encloser = name;
    while (encloser.size() > zone.apex().size()) {
      encloser = parentName(encloser);
      if (zone.find(encloser) != nullptr) {
        break;
      }
    }
    uint8_t star[kMaxName];
    if (encloser.size() + 2 > kMaxName) {
      return nullptr;
    }
    star[0] = 1;
    star[1] = '*';
    std::copy(encloser.begin(), encloser.end(), star + 2);
    return zone.find(asView(star, encloser.size() + 2));
  }

  size_t negative(const Zone& zone, uint16_t rcode, bool opt) {
    const Record& soa = zone.soa();
    if (!putRecord(asBytes(soa.owner), soa, zone.negativeTtl())) {
      return truncate(opt);
    }
    ++authority_;
    return finish(rcode, true, opt);
  }

  bool putRecord(const uint8_t* owner, const Record& r) { return putRecord(owner, r, r.ttl); }

  bool putRecord(const uint8_t* owner, const Record& r, uint32_t ttl) {
    const size_t start = w_.size();
    const uint8_t* rd = asBytes(r.rdata);
    bool ok = w_.putName(owner, nameLength(owner)) && w_.put16(r.type) && w_.put16(kClassIN) &&
              w_.put32(ttl) && w_.put16(0);
    const size_t rdata_at = w_.size();
    if (ok) {
      switch (r.type) {
        case kCNAME:
        case kNS:
        case kPTR:
          ok = w_.putName(rd, r.rdata.size());
          break;
        case kMX:
          ok = w_.put(rd, 2) && w_.putName(rd + 2, r.rdata.size() - 2);
          break;
        case kSOA: {
          const size_t m = nameLength(rd);
          const size_t n = nameLength(rd + m);
          ok = w_.putName(rd, m) && w_.putName(rd + m, n) && w_.put(rd + m + n, 20);
          break;
        }
        case kSRV:
          ok = w_.put(rd, 6) && w_.putName(rd + 6, r.rdata.size() - 6, false);
          break;
        default:
          ok = w_.put(rd, r.rdata.size());
          break;
      }
    }
    if (!ok) {
      w_.rewind(start);
      return false;
    }
    put16(w_.data() + rdata_at - 2, static_cast<uint16_t>(w_.size() - rdata_at));
    return true;
  }

  // Header, question and OPT only, TC=1 (RFC 2181 9, RFC 6891 7).
  size_t truncate(bool opt) {
    w_.rewind(kHeaderSize);
    writeQuestion();
    answers_ = 0;
    authority_ = 0;
    info_->truncated = true;
    return finish(kNoError, true, opt, true);
  }

  size_t finish(uint16_t rcode, bool authoritative, bool opt, bool tc = false) {
    uint8_t* h = w_.data();
    uint16_t flags = get16(h + 2);
    flags = static_cast<uint16_t>(flags | (rcode & 0xF) | (authoritative ? kFlagAA : 0) |
                                  (tc ? kFlagTC : 0));
    put16(h + 2, flags);
    put16(h + 4, q_.has_question && w_.size() > kHeaderSize ? 1 : 0);
    put16(h + 6, answers_);
    put16(h + 8, authority_);
    put16(h + 10, opt ? 1 : 0);
    info_->rcode = rcode;
    if (opt) {
      w_.setLimit(limit_);
      const uint8_t root = 0;
      w_.put(&root, 1);
      w_.put16(kOPT);
      w_.put16(std::max<uint16_t>(settings_.max_udp_payload, 512));
      // Extended RCODE (upper 8 bits), version 0, then DO echoed (RFC 3225 3) and the other
      // flags zero; no options.
      w_.put32(static_cast<uint32_t>(rcode >> 4) << 24 | (q_.dnssec_ok ? 0x8000u : 0u));
      w_.put16(0);
    }
    return w_.size();
  }

  const AnswerSettings& settings_;
  const Query& q_;
  MessageWriter w_;
  size_t limit_;
  AnswerInfo* info_ = nullptr;
  uint16_t answers_ = 0;
  uint16_t authority_ = 0;
  uint8_t lower_[kMaxName];
};

}  // namespace

size_t buildAnswer(const ZoneSet& zones, const AnswerSettings& settings, const Query& q,
                   ParseResult parsed, Override override, uint8_t* out, size_t limit,
                   AnswerInfo* info) {
  Builder b(settings, q, out, limit);
  return b.run(zones, parsed, override, info);
}

}  // namespace portd::handlers::dns
