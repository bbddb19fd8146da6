// Servers of other makes that tests run portd against (redis-server, nginx, smtp-sink, sockperf),
// and the scratch space they need.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "daemon_process.h"
#include "net_client.h"

namespace portd::itest {

// The installed program's path, or "" (looked for in /usr/bin, /usr/sbin and the local ones).
std::string findProgram(const std::string& name);

// Whether the server at `to` answers as it should once ready.
using ReadyCheck = std::function<bool(const Endpoint& to)>;

// A server of the test's own. The port is found free by binding port 0 and releasing it, so
// another process may take it in between: the server is then started again on another.
class ExternalServer {
 public:
  ~ExternalServer() { stop(); }

  // `args`: "{port}" in any of them becomes the port.
  // `prepare`, when given, is called with the port before each start (to write a server's
  // configuration file, for servers that take their port only from one).
  ::testing::AssertionResult start(const std::string& path, const std::vector<std::string>& args,
                                   const ReadyCheck& ready,
                                   const std::function<void(uint16_t)>& prepare = {}) {
    std::string why;
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = freePort(SOCK_STREAM, AF_INET);
      if (port_ == 0) {
        return ::testing::AssertionFailure() << "no free port";
      }
      if (prepare) {
        prepare(port_);
      }
      ChildProcess::Spec spec{path, {}, std::nullopt, {}, {}, ""};
      for (std::string a : args) {
        const size_t at = a.find("{port}");
        if (at != std::string::npos) {
          a.replace(at, 6, std::to_string(port_));
        }
        spec.args.push_back(a);
      }
      child_ = std::make_unique<ChildProcess>(spec);
      const auto deadline = Clock::now() + 10s;
      while (Clock::now() < deadline && child_->wait(0s).isRunning()) {
        if (ready(endpoint())) {
          return ::testing::AssertionSuccess();
        }
        std::this_thread::sleep_for(50ms);
      }
      why = path + " did not answer on port " + std::to_string(port_) + " (" +
            child_->wait(0s).toString() + "): " + child_->stdoutText() + child_->stderrText();
      stop();
    }
    return ::testing::AssertionFailure() << why;
  }

  Endpoint endpoint() const { return Endpoint::loopback(AF_INET, port_); }
  std::string port() const { return std::to_string(port_); }

  // By its pid: SIGTERM, then SIGKILL if it lingers.
  void stop() {
    if (!child_) {
      return;
    }
    child_->signal(SIGTERM);
    if (child_->wait(10s).isRunning()) {
      child_->signal(SIGKILL);
      child_->wait(5s);
    }
    child_.reset();
  }

 private:
  uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> child_;
};

// A directory of the test's own, removed with what it holds.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "portd-test.XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A `portd load --json` result file, parsed (a discarded value when it is not JSON).
nlohmann::json readJson(const std::string& path);
// The sum of a result's error counters.
uint64_t errorTotal(const nlohmann::json& result);

}  // namespace portd::itest
