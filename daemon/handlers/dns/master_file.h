#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/dns/zone.h"

// The master-file format of RFC 1035 section 5, as zone files are written for BIND, Knot and
// NSD: $ORIGIN, $TTL, "@", names relative to the origin, an owner left out (a line starting
// with a blank) meaning the previous one, parentheses continuing a record over lines, ";"
// comments, quoted strings with \X and \DDD escapes, the class (IN only) and the TTL optional
// and in either order, TTLs with units (1h30m, 2d, 1w). Types: A, AAAA, CNAME, NS, SOA, MX,
// TXT, SRV, PTR. $INCLUDE and $GENERATE are refused: a zone comes from the configuration and
// the files it names, nothing else.
namespace portd::handlers::dns {

// Appends the records of `text` to `out`. `source` names the text in errors. Throws
// std::runtime_error("SOURCE:LINE: reason") at the first bad line, or when the records would
// be more than `max_records` in all (out's own included).
void parseMasterFile(std::string_view text, std::string_view source, size_t max_records,
                     std::vector<Record>* out);

// A name in master-file form ("www", "www.example.com.", "@", "\046.x.") in wire form: relative
// names are completed with `origin` (wire form; empty when there is none, which makes a
// relative name an error). False with *error set when it is not a valid name.
bool nameFromText(std::string_view text, std::string_view origin, std::string* out,
                  std::string* error);

// The name in lower case (ASCII letters only, as DNS compares names: RFC 4343).
std::string lowercaseName(std::string_view name);

}  // namespace portd::handlers::dns
