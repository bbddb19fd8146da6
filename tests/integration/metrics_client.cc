#include "metrics_client.h"

#include <gtest/gtest.h>

#include <sstream>

#include "child_process.h"
#include "daemon_process.h"

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

std::string adminBody(const Endpoint& admin, const std::string& path) {
  Fd fd = connectTcp(admin);
  if (!fd.valid()) {
    ADD_FAILURE() << "cannot connect to the admin endpoint " << admin;
    return "";
  }
  EXPECT_TRUE(
      sendAll(fd.get(), "GET " + path + " HTTP/1.1\r\nHost: portd\r\nConnection: close\r\n\r\n"));
  const std::string response = readExactly(fd.get(), size_t{1} << 24);
  const size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

bool promtoolAccepts(const std::string& text, std::string* why) {
  TempFile file(text, ".prom");
  ChildProcess child(
      {"/bin/sh", {"-c", "promtool check metrics < " + file.path()}, std::nullopt, {}, {}, ""});
  const bool ok = child.wait(20s) == ExitStatus::exited(0);
  *why = child.stdoutText() + child.stderrText();
  return ok;
}

}  // namespace portd::itest
