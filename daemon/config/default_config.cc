#include "config/loader.h"

namespace portd::config {

// The same settings as config/portd.toml, without the comments; a test checks that both parse
// to the same document.
std::string_view defaultConfigText() {
  return R"toml([server]
workers = 0
shutdown_timeout = "10s"

[log]
level = "info"
format = "text"

[[listener]]
name = "echo-tcp"
protocol = "tcp"
address = "127.0.0.1:7000"
handler = "echo"

[[listener]]
name = "echo-udp"
protocol = "udp"
address = "127.0.0.1:7000"
handler = "echo"
)toml";
}

}  // namespace portd::config
