#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "handlers/http/response.h"

namespace portd::handlers::http {

enum class Match { kExact, kPrefix };

// A path and the fixed response it gets, whatever the method (HEAD gets the head only).
struct Route {
  std::string path;
  Match match = Match::kExact;
  CannedResponse response;
};

// The routes of one listener, fixed at configuration time. An exact route wins over a prefix
// route; among prefix routes the longest prefix wins. Prefixes are plain string prefixes:
// "/static" matches "/static/a" and "/staticky".
class RouteTable {
 public:
  // False (and nothing added) when a route with the same path and match is already there.
  bool add(Route route);
  const Route* find(std::string_view path) const;
  bool empty() const { return exact_.empty() && prefix_.empty(); }

 private:
  std::vector<Route> exact_;
  std::vector<Route> prefix_;  // longest first
};

// The parts of a request target (RFC 9112 3.2): the path and the query of an origin-form
// ("/a?b") or absolute-form ("http://host/a?b") target. For the asterisk form of OPTIONS, and
// the authority form of CONNECT (which the parser refuses first), `path` is the target itself,
// which matches no route.
struct Target {
  std::string_view path;
  std::string_view query;  // without the '?'
};
Target splitTarget(std::string_view target);
// The same, when the parser knows where the path of an origin-form target without a fragment
// ends (ParsedRequest::path_size; npos if it does not).
inline Target splitTarget(std::string_view target, size_t path_size) {
  if (path_size == std::string_view::npos) {
    return splitTarget(target);
  }
  Target t;
  t.path = target.substr(0, path_size);
  if (path_size < target.size()) {
    t.query = target.substr(path_size + 1);
  }
  return t;
}

}  // namespace portd::handlers::http
