#include "server/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace portd::server {

namespace {

// %* in a pattern: the message, escaped for a JSON string.
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*tm*/,
              spdlog::memory_buf_t& dest) override {
    for (char c : msg.payload) {
      switch (c) {
        case '"':
          dest.append(std::string_view("\\\""));
          break;
        case '\\':
          dest.append(std::string_view("\\\\"));
          break;
        case '\n':
          dest.append(std::string_view("\\n"));
          break;
        case '\r':
          dest.append(std::string_view("\\r"));
          break;
        case '\t':
          dest.append(std::string_view("\\t"));
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            fmt::format_to(std::back_inserter(dest), "\\u{:04x}", static_cast<int>(c));
          } else {
            dest.push_back(c);
          }
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

}  // namespace

namespace {

std::unique_ptr<spdlog::formatter> makeFormatter(config::LogFormat format) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  if (format == config::LogFormat::kJson) {
    formatter->add_flag<JsonEscapedMessage>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%f%z","level":"%l","thread":%t,"msg":"%*"})");
  } else {
    formatter->set_pattern("%Y-%m-%d %H:%M:%S.%e %l [%t] %v");
  }
  return formatter;
}

}  // namespace

void applyLogging(const config::LogConfig& log) {
  // In place, never a new default logger: workers log through the default logger's raw
  // pointer at any moment. The level is an atomic; set_formatter() takes each sink's lock.
  auto logger = spdlog::default_logger();
  logger->set_formatter(makeFormatter(log.format));
  logger->set_level(spdlog::level::from_str(log.level));
}

void setupLogging(const config::LogConfig& log) {
  auto logger =
      std::make_shared<spdlog::logger>("portd", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_formatter(makeFormatter(log.format));
  logger->set_level(spdlog::level::from_str(log.level));
  // Errors must reach the journal even if the process dies right after.
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace portd::server
