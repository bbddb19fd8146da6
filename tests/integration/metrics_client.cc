#include "metrics_client.h"

#include <gtest/gtest.h>

#include <sstream>

namespace portd::itest {

std::string metrics(const Endpoint& admin) {
  Fd fd = connectTcp(admin);
  if (!fd.valid()) {
    ADD_FAILURE() << "cannot connect to the admin endpoint " << admin;
    return "";
  }
  EXPECT_TRUE(
      sendAll(fd.get(), "GET /metrics HTTP/1.1\r\nHost: portd\r\nConnection: close\r\n\r\n"));
  return readExactly(fd.get(), size_t{1} << 24);
}

double sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(series + " ")) {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

}  // namespace portd::itest
