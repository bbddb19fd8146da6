#include "load/interval_log.h"

#include <charconv>
#include <cmath>
#include <ctime>
#include <stdexcept>

namespace portd::load {

namespace {

constexpr std::string_view kVersionPrefix = "#[Histogram log format version ";
constexpr std::string_view kStartTimePrefix = "#[StartTime: ";
constexpr std::string_view kBaseTimePrefix = "#[BaseTime: ";
constexpr std::string_view kLegend =
    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"";
constexpr std::string_view kTagPrefix = "Tag=";

// `value` with 3 decimals, as Java's "%.3f" in Locale.US: independent of the C locale.
std::string fixed3(double value) {
  char buffer[64];
  auto [end, ec] =
      std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::fixed, 3);
  if (ec != std::errc{}) {
    return "0.000";  // Only for values beyond 10^60, which no time or latency is.
  }
  return std::string(buffer, end);
}

// Java's Date.toString() layout ("Tue Sep 08 23:05:32 UTC 2015"), in UTC so that a log
// does not depend on the writer's time zone. Readers ignore it: the seconds before it count.
std::string utcDate(double seconds) {
  // Beyond year 9999 (or before 1970) the date says nothing useful and gmtime_r may fail.
  if (!(seconds >= 0.0 && seconds < 253402300800.0)) {
    return "?";
  }
  time_t t = static_cast<time_t>(seconds);
  struct tm tm {};
  char buffer[64];
  if (gmtime_r(&t, &tm) == nullptr ||
      std::strftime(buffer, sizeof(buffer), "%a %b %d %H:%M:%S UTC %Y", &tm) == 0) {
    return "?";
  }
  return buffer;
}

// A decimal number filling all of `text`, finite.
std::optional<double> parseNumber(std::string_view text) {
  double value = 0.0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::general);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() ||
      !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

// Text from the log quoted in an error: its start only, and bytes other than printable ASCII
// as \xNN, so that a hostile log cannot send control sequences to the terminal that shows
// the error.
std::string quote(std::string_view text) {
  constexpr size_t kMax = 40;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char c : text.substr(0, kMax)) {
    auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  out += text.size() > kMax ? "...\"" : "\"";
  return out;
}

}  // namespace

std::string formatLogHeader(const IntervalLogHeader& header) {
  std::string out;
  if (!header.comment.empty()) {
    out += "#[" + header.comment + "]\n";
  }
  out += std::string(kVersionPrefix) + std::string(kLogFormatVersion) + "]\n";
  out += std::string(kStartTimePrefix) + fixed3(header.start_time) + " (seconds since epoch), " +
         utcDate(header.start_time) + "]\n";
  if (header.base_time) {
    out += std::string(kBaseTimePrefix) + fixed3(*header.base_time) + " (seconds since epoch)]\n";
  }
  out += std::string(kLegend) + "\n";
  return out;
}

std::string formatLogEntry(std::string_view tag, double start, double length,
                           const Histogram& histogram) {
  std::string out;
  if (!tag.empty()) {
    if (tag.find_first_of(", \r\n") != std::string_view::npos) {
      throw std::invalid_argument(
          "interval log: a tag cannot contain commas, spaces or line "
          "breaks: " +
          quote(tag));
    }
    out += std::string(kTagPrefix) + std::string(tag) + ",";
  }
  out += fixed3(start) + "," + fixed3(length) + "," +
         fixed3(static_cast<double>(histogram.max()) / kMaxValueUnitRatio) + "," +
         encodeCompressedBase64(histogram) + "\n";
  return out;
}

IntervalLogReader::IntervalLogReader(std::string_view text, const DecodeLimits& limits)
    : rest_(text), limits_(limits) {}

bool IntervalLogReader::readComment(std::string_view line, std::string* error) {
  const std::string at = "line " + std::to_string(line_number_) + ": ";
  auto seconds = [&](std::string_view prefix, const char* what) -> std::optional<double> {
    std::string_view text = line.substr(prefix.size());
    text = text.substr(0, text.find_first_of(" ],"));
    std::optional<double> value = parseNumber(text);
    if (!value) {
      *error = at + what + " is not a number of seconds: " + quote(text);
    }
    return value;
  };
  if (line.starts_with(kStartTimePrefix)) {
    start_time_ = seconds(kStartTimePrefix, "StartTime");
    return start_time_.has_value();
  }
  if (line.starts_with(kBaseTimePrefix)) {
    base_time_ = seconds(kBaseTimePrefix, "BaseTime");
    return base_time_.has_value();
  }
  if (line.starts_with(kVersionPrefix)) {
    std::string_view version = line.substr(kVersionPrefix.size());
    size_t close = version.find(']');
    version = version.substr(0, close);
    if (close == std::string_view::npos || !version.starts_with("1.") || version.size() == 2 ||
        version.find_first_not_of("0123456789", 2) != std::string_view::npos) {
      *error = at + "unsupported log format version " + quote(version) + " (1.x expected)";
      return false;
    }
    version_ = std::string(version);
  }
  // Any other comment says nothing the reader needs.
  return true;
}

std::optional<IntervalLogEntry> IntervalLogReader::next(std::string* error) {
  error->clear();
  while (!rest_.empty()) {
    size_t end = rest_.find('\n');
    std::string_view line = rest_.substr(0, end);
    rest_ = end == std::string_view::npos ? std::string_view() : rest_.substr(end + 1);
    ++line_number_;
    if (line.ends_with('\r')) {
      line.remove_suffix(1);
    }
    const std::string at = "line " + std::to_string(line_number_) + ": ";
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
      continue;
    }
    if (line.starts_with('#')) {
      if (!readComment(line, error)) {
        rest_ = {};
        return std::nullopt;
      }
      continue;
    }
    if (line.starts_with("\"StartTimestamp\"")) {
      continue;  // The legend (HdrHistogram_c writes "EndTimestamp" as its second name).
    }

    auto fail = [&](const std::string& what) {
      *error = at + what;
      rest_ = {};
      return std::nullopt;
    };
    std::string tag;
    if (line.starts_with(kTagPrefix)) {
      line.remove_prefix(kTagPrefix.size());
      size_t comma = line.find(',');
      tag = std::string(line.substr(0, comma));
      line = comma == std::string_view::npos ? std::string_view() : line.substr(comma + 1);
    }
    std::string_view fields[4];
    size_t count = 0;
    bool more = false;
    while (true) {
      if (count == 4) {
        more = true;
        break;
      }
      size_t comma = line.find(',');
      fields[count++] = line.substr(0, comma);
      if (comma == std::string_view::npos) {
        break;
      }
      line.remove_prefix(comma + 1);
    }
    if (count != 4 || more) {
      return fail(
          "an interval line needs 4 comma-separated fields (start, length, max, "
          "histogram), not " +
          (more ? std::string("more") : std::to_string(count)));
    }
    std::optional<double> start = parseNumber(fields[0]);
    if (!start) {
      return fail("the interval start is not a number: " + quote(fields[0]));
    }
    std::optional<double> length = parseNumber(fields[1]);
    if (!length || *length < 0.0) {
      return fail("the interval length is not a number >= 0: " + quote(fields[1]));
    }
    std::optional<double> max = parseNumber(fields[2]);
    if (!max || *max < 0.0) {
      return fail("the interval max is not a number >= 0: " + quote(fields[2]));
    }
    std::string histogram_error;
    std::optional<Histogram> histogram =
        decodeBase64Histogram(fields[3], &histogram_error, limits_);
    if (!histogram) {
      return fail(histogram_error);
    }
    return IntervalLogEntry{std::move(tag), *start, *length, *max, std::move(*histogram)};
  }
  return std::nullopt;
}

std::optional<IntervalLog> readIntervalLog(std::string_view text, std::string* error,
                                           const DecodeLimits& limits, size_t max_total_counts) {
  IntervalLog log;
  IntervalLogReader reader(text, limits);
  size_t total_counts = 0;
  while (std::optional<IntervalLogEntry> entry = reader.next(error)) {
    total_counts += static_cast<size_t>(entry->histogram.layout().countsLength());
    if (total_counts > max_total_counts) {
      *error = "line " + std::to_string(reader.lineNumber()) + ": the histograms so far hold " +
               std::to_string(total_counts) + " counts, more than the limit of " +
               std::to_string(max_total_counts);
      return std::nullopt;
    }
    log.entries.push_back(std::move(*entry));
  }
  if (!error->empty()) {
    return std::nullopt;
  }
  log.start_time = reader.startTime();
  log.base_time = reader.baseTime();
  log.version = reader.version();
  return log;
}

}  // namespace portd::load
