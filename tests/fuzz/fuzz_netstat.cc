// Fuzz target for the /proc/net/netstat reader behind portd_host_listen_*_total
// (daemon/admin/host_netstat.h): the input is the file's text. The kernel writes it, but a
// reader that crashes or misreads on a file of another shape would take /metrics down with it.
// Any broken invariant aborts:
//  - a value found is a decimal token of the input, in a line of the group asked for;
//  - lines of another group before the text change nothing, whatever the text;
//  - a well-formed pair of lines appended after the text (and a line of another group) is found
//    when the text has no such field of its own before it.
// The input is a heap copy of its own, so that AddressSanitizer catches a look past its end.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "admin/host_netstat.h"

using portd::admin::netstatValue;

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_netstat: invariant broken: %s\n", what);
    std::abort();
  }
}

void lookUp(std::string_view text, std::string_view group, std::string_view field) {
  std::optional<uint64_t> v = netstatValue(text, group, field);
  if (v) {
    check(text.find(std::to_string(*v)) != std::string_view::npos,
          "a value that is not in the input");
    check(text.find(std::string(group) + ":") != std::string_view::npos,
          "a value from a group the input lacks");
  }
  if (group != "Other") {
    std::string prefixed = "Other: " + std::string(field) + "\nOther: 5\n" + std::string(text);
    check(netstatValue(prefixed, group, field) == v, "another group's lines changed the result");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto copy = std::make_unique<char[]>(size);
  if (size > 0) {
    std::memcpy(copy.get(), data, size);
  }
  const std::string_view text(copy.get(), size);
  lookUp(text, "TcpExt", "ListenOverflows");
  lookUp(text, "TcpExt", "ListenDrops");
  lookUp(text, "IpExt", "InOctets");
  // A group and a field named by the input itself: its first word before a colon and the word
  // after it, so that the fuzzer reaches matches of any shape.
  size_t colon = text.find(':');
  if (colon != std::string_view::npos && colon < 64) {
    std::string_view rest = text.substr(colon + 1, 64);
    size_t start = rest.find_first_not_of(" \t");
    std::string_view field = start == std::string_view::npos
                                 ? rest
                                 : rest.substr(start, rest.find_first_of(" \t\r\n", start) - start);
    lookUp(text, text.substr(0, colon), field);
  }
  if (!netstatValue(text, "Zz", "Q")) {
    // The Other line ends whatever pair the input left open.
    std::string appended = std::string(text) + "\nOther: x\nZz: A Q\nZz: 1 42\n";
    check(netstatValue(appended, "Zz", "Q") == 42u, "a well-formed pair after the input is lost");
  }
  return 0;
}
