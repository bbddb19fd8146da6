#include "handlers/http/routes.h"

#include <algorithm>

#include "handlers/http/field_syntax.h"

namespace portd::handlers::http {

bool RouteTable::add(Route route) {
  std::vector<Route>& list = route.match == Match::kExact ? exact_ : prefix_;
  for (const Route& r : list) {
    if (r.path == route.path) {
      return false;
    }
  }
  list.push_back(std::move(route));
  std::stable_sort(prefix_.begin(), prefix_.end(),
                   [](const Route& a, const Route& b) { return a.path.size() > b.path.size(); });
  return true;
}

const Route* RouteTable::find(std::string_view path) const {
  for (const Route& r : exact_) {
    if (r.path == path) {
      return &r;
    }
  }
  for (const Route& r : prefix_) {
    if (path.starts_with(r.path)) {
      return &r;
    }
  }
  return nullptr;
}

Target splitTarget(std::string_view target) {
  Target t;
  std::string_view rest = target;
  if (!rest.starts_with('/')) {
    // Absolute form: skip "scheme://authority"; what follows is an origin-form target, or
    // nothing (then the path is "/").
    size_t scheme_end = rest.find("://");
    bool http_scheme = scheme_end != std::string_view::npos &&
                       (equalsIgnoreCase(rest.substr(0, scheme_end), "http") ||
                        equalsIgnoreCase(rest.substr(0, scheme_end), "https"));
    if (!http_scheme) {
      t.path = target;
      return t;
    }
    rest.remove_prefix(scheme_end + 3);
    size_t path_at = rest.find_first_of("/?#");
    rest = path_at == std::string_view::npos ? std::string_view() : rest.substr(path_at);
    if (rest.empty() || rest.front() != '/') {
      size_t q = rest.find('?');
      t.path = "/";
      t.query = q == std::string_view::npos ? std::string_view() : rest.substr(q + 1);
      size_t hash = t.query.find('#');
      t.query = t.query.substr(0, hash);
      return t;
    }
  }
  // A loop rather than find_first_of(), which calls memchr() on "?#" for every byte.
  size_t end = 0;
  while (end < rest.size() && rest[end] != '?' && rest[end] != '#') {
    ++end;
  }
  if (end == rest.size()) {
    end = std::string_view::npos;
  }
  t.path = rest.substr(0, end);
  if (end != std::string_view::npos && rest[end] == '?') {
    std::string_view query = rest.substr(end + 1);
    t.query = query.substr(0, query.find('#'));
  }
  return t;
}

}  // namespace portd::handlers::http
