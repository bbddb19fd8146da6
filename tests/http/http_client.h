#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon_process.h"
#include "net_client.h"

// Client-side helpers for the http handler's tests: a small HTTP/1.1 response reader for raw
// sockets, curl as an independent client, and the configuration of an http listener.
namespace portd::itest {

struct HttpResponse {
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header of that name (case-insensitive), or "" when there is none.
  std::string header(std::string_view name) const;
  bool hasHeader(std::string_view name) const;
};

// Splits `raw` into the complete responses it holds, framed by Content-Length (1xx, 204 and 304
// responses, and responses to HEAD when `head` is set, have no body). What is left over (an
// incomplete response) goes to *rest. A response that cannot be parsed ends the list and goes
// to *rest with everything after it.
std::vector<HttpResponse> parseResponses(std::string_view raw, std::string* rest = nullptr,
                                         bool head = false);

// Reads from `fd` until `count` complete final responses (not counting 1xx) have arrived, the
// peer has closed, or `timeout` has passed; returns every response read, 1xx included.
std::vector<HttpResponse> readResponses(int fd, size_t count, Clock::duration timeout = kIoTimeout,
                                        bool head = false);

// Reads until the peer closes the connection or `timeout` passes.
struct ReadToClose {
  std::string data;
  PeerClose how = PeerClose::kStillOpen;
};
ReadToClose readUntilClose(int fd, Clock::duration timeout = kIoTimeout);

// "GET /path HTTP/1.1\r\nHost: portd\r\n" + extra + "\r\n"
std::string getRequest(std::string_view path, std::string_view extra = "",
                       std::string_view method = "GET");

// Runs curl (found on PATH) with `args`; fails the test if there is no curl.
CommandResult runCurl(const std::vector<std::string>& args, Clock::duration timeout = 20s);

std::string url(const Endpoint& e, std::string_view path);

// A configuration with one tcp listener named "web" on 127.0.0.1 port 0 running the http
// handler; `options` is the body of its [listener.options] table, and `tables` is appended
// after it (for [[listener.options.route]] tables).
std::string httpConfig(std::string_view options, std::string_view tables = "",
                       unsigned workers = 1);

// A daemon running httpConfig(): the fixture of most http tests.
class HttpTest : public ::testing::Test {
 protected:
  void startDaemon(std::string_view options, std::string_view tables = "", unsigned workers = 1);
  void TearDown() override;

  // A connected client socket; fails the test when it cannot connect.
  Fd connect();

  Daemon daemon_;
  Endpoint web_;
};

}  // namespace portd::itest
