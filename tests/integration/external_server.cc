#include "external_server.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

namespace portd::itest {

using nlohmann::json;

std::string findProgram(const std::string& name) {
  for (const char* dir : {"/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"}) {
    const std::string path = std::string(dir) + "/" + name;
    if (::access(path.c_str(), X_OK) == 0) {
      return path;
    }
  }
  return "";
}

json readJson(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str(), nullptr, false);
}

uint64_t errorTotal(const json& result) {
  uint64_t n = 0;
  for (const auto& [name, count] : result["counters"]["errors"].items()) {
    n += count.get<uint64_t>();
  }
  return n;
}

}  // namespace portd::itest
