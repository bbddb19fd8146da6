#include "http_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>

namespace portd::itest {

namespace {

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Parses one response at the start of `raw`. Returns its length, or 0 if `raw` does not hold a
// complete one; sets *bad when it cannot be a response at all.
size_t parseOne(std::string_view raw, bool head, HttpResponse* out, bool* bad) {
  size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    *bad = raw.size() >= 5 && !raw.starts_with("HTTP/");
    return 0;
  }
  std::string_view lines = raw.substr(0, head_end + 2);
  size_t eol = lines.find("\r\n");
  std::string_view status_line = lines.substr(0, eol);
  // "HTTP/1.1 200 OK"
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12) {
    *bad = true;
    return 0;
  }
  HttpResponse r;
  std::from_chars(status_line.data() + 9, status_line.data() + 12, r.status);
  r.reason = std::string(status_line.substr(std::min<size_t>(13, status_line.size())));
  lines.remove_prefix(eol + 2);
  while (!lines.empty()) {
    eol = lines.find("\r\n");
    std::string_view line = lines.substr(0, eol);
    lines.remove_prefix(eol + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      *bad = true;
      return 0;
    }
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') {
      value.remove_prefix(1);
    }
    r.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  size_t length = 0;
  const bool no_body = head || r.status < 200 || r.status == 204 || r.status == 304;
  if (!no_body) {
    std::string cl = r.header("Content-Length");
    if (cl.empty() || std::from_chars(cl.data(), cl.data() + cl.size(), length).ec != std::errc{}) {
      *bad = true;
      return 0;
    }
  }
  size_t total = head_end + 4 + length;
  if (raw.size() < total) {
    return 0;
  }
  r.body = std::string(raw.substr(head_end + 4, length));
  *out = std::move(r);
  return total;
}

bool waitReadable(int fd, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return false;
    }
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) {
      return true;
    }
    if (n < 0 && errno != EINTR) {
      return false;
    }
  }
}

std::string findOnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    std::string dir =
        dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return "";
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (equalsIgnoreCase(n, name)) {
      return v;
    }
  }
  return "";
}

bool HttpResponse::hasHeader(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (equalsIgnoreCase(n, name)) {
      return true;
    }
  }
  return false;
}

std::vector<HttpResponse> parseResponses(std::string_view raw, std::string* rest, bool head) {
  std::vector<HttpResponse> out;
  for (;;) {
    HttpResponse r;
    bool bad = false;
    size_t used = parseOne(raw, head, &r, &bad);
    if (used == 0) {
      break;
    }
    out.push_back(std::move(r));
    raw.remove_prefix(used);
  }
  if (rest != nullptr) {
    *rest = std::string(raw);
  }
  return out;
}

std::vector<HttpResponse> readResponses(int fd, size_t count, Clock::duration timeout, bool head) {
  const Clock::time_point deadline = Clock::now() + timeout;
  std::string raw;
  char buf[65536];
  for (;;) {
    std::vector<HttpResponse> got = parseResponses(raw, nullptr, head);
    size_t finals = 0;
    for (const HttpResponse& r : got) {
      finals += r.status >= 200 ? 1 : 0;
    }
    if (finals >= count) {
      return got;
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      raw.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) {
      return parseResponses(raw, nullptr, head);
    }
    if (errno != EINTR && !waitReadable(fd, deadline)) {
      return parseResponses(raw, nullptr, head);
    }
  }
}

ReadToClose readUntilClose(int fd, Clock::duration timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  ReadToClose out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      out.data.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      out.how = PeerClose::kEof;
      return out;
    }
    if (errno == ECONNRESET) {
      out.how = PeerClose::kReset;
      return out;
    }
    if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      out.how = PeerClose::kError;
      return out;
    }
    if (errno != EINTR && !waitReadable(fd, deadline)) {
      out.how = PeerClose::kStillOpen;
      return out;
    }
  }
}

std::string getRequest(std::string_view path, std::string_view extra, std::string_view method) {
  std::string r(method);
  r += " ";
  r += path;
  r += " HTTP/1.1\r\nHost: portd\r\n";
  r += extra;
  r += "\r\n";
  return r;
}

CommandResult runCurl(const std::vector<std::string>& args, Clock::duration timeout) {
  static const std::string curl = findOnPath("curl");
  if (curl.empty()) {
    ADD_FAILURE() << "curl is not installed (it is in .ci/setup's package list)";
    return CommandResult{ExitStatus::exited(127), "", ""};
  }
  ChildProcess child({curl, args, std::nullopt, {}, {}, ""});
  CommandResult result;
  result.status = child.wait(timeout);
  result.out = child.stdoutText();
  result.err = child.stderrText();
  return result;
}

std::string url(const Endpoint& e, std::string_view path) {
  return "http://" + e.toString() + std::string(path);
}

std::string httpConfig(std::string_view options, std::string_view tables, unsigned workers) {
  std::string c = "[server]\nworkers = " + std::to_string(workers) +
                  "\nshutdown_timeout = \"2s\"\n\n"
                  "[[listener]]\nname = \"web\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:0\"\n"
                  "handler = \"http\"\n[listener.options]\n";
  c += options;
  c += "\n";
  c += tables;
  return c;
}

void HttpTest::startDaemon(std::string_view options, std::string_view tables, unsigned workers) {
  ASSERT_TRUE(daemon_.start(httpConfig(options, tables, workers)));
  web_ = daemon_.listener("web");
  ASSERT_NE(web_.port(), 0);
}

void HttpTest::TearDown() {
  if (web_.port() != 0) {
    EXPECT_TRUE(daemon_.stop());
  }
}

Fd HttpTest::connect() {
  Fd fd = connectTcp(web_);
  EXPECT_TRUE(fd.valid()) << "cannot connect to " << web_;
  return fd;
}

}  // namespace portd::itest
