#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "load/hdr_codec.h"
#include "load/histogram.h"

namespace portd::load {

// HdrHistogram's interval log, as the Java HistogramLogWriter writes it (format 1.3) and its
// HistogramLogReader, HistogramLogProcessor and the HdrHistogram plotters read it:
//
//   #[Histogram log format version 1.3]
//   #[StartTime: 1441753532.570 (seconds since epoch), Tue Sep 08 23:05:32 UTC 2015]
//   #[BaseTime: 1441753532.570 (seconds since epoch)]              (optional)
//   "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
//   0.126,1.007,1.933,HISTFAAAAEB42pNp...
//   Tag=get,0.126,1.007,0.377,HISTFAAAADx42pNp...
//
// One line per interval: an optional tag, the interval's start in seconds (relative to the
// base time when there is one; absolute, or relative to the start time, otherwise, as the
// writer chose), its length in seconds, its highest value divided by the max value unit ratio,
// and the histogram in compressed V2 form, base64 (hdr_codec.h).
//
// portd's histograms count microseconds, and its logs give Interval_Max in milliseconds: a
// ratio of 1000, where Java's default of 1'000'000 assumes nanoseconds. Only that column
// depends on it; the histograms hold the microseconds themselves.
inline constexpr double kMaxValueUnitRatio = 1000.0;
inline constexpr std::string_view kLogFormatVersion = "1.3";

struct IntervalLogHeader {
  // Seconds since the epoch, to the millisecond: "#[StartTime: ...]".
  double start_time = 0.0;
  // Seconds since the epoch: "#[BaseTime: ...]", written only when set.
  std::optional<double> base_time;
  // A first comment line, "#[<comment>]" (e.g. what wrote the log), written only when set.
  std::string comment;
};

// The lines that open a log: the comment, the format version, the start time (with its date
// in UTC), the base time and the legend, each ending in '\n'.
std::string formatLogHeader(const IntervalLogHeader& header);

// The line of one interval, ending in '\n': start and length in seconds, the histogram's max()
// divided by kMaxValueUnitRatio, each with 3 decimals, and the histogram. `tag` may be empty
// (no tag); otherwise it must not contain ',', ' ' or a line break, which the format cannot
// carry (std::invalid_argument otherwise).
std::string formatLogEntry(std::string_view tag, double start, double length,
                           const Histogram& histogram);

struct IntervalLogEntry {
  // Empty when the line has no tag.
  std::string tag;
  double start = 0.0;
  double length = 0.0;
  // The Interval_Max column as written; the histogram's own max() is the exact one.
  double max = 0.0;
  Histogram histogram;
};

// Reads a log from text, one interval at a time, so that memory holds one histogram however
// long the log. Input is treated as hostile: a line that is not a comment, the legend or a
// well-formed interval is an error naming its line, and each histogram is decoded within
// `limits`. Blank lines and comments other than those above are skipped; a log format version
// other than 1.x is refused. The second column is read as an interval length, as in the Java
// format (HdrHistogram_c's hdr_log_write() puts an end time there).
//
// `text` must outlive the reader.
class IntervalLogReader {
 public:
  explicit IntervalLogReader(std::string_view text, const DecodeLimits& limits = {});
  // A temporary string would die before the reader reads it.
  explicit IntervalLogReader(std::string&& text, const DecodeLimits& limits = {}) = delete;

  // The next interval. nullopt at the end of the log with `error` cleared, or on an error
  // with `error` set ("line 7: ..."); after an error the reader stays at the end.
  std::optional<IntervalLogEntry> next(std::string* error);

  // What the header lines said, as far as the reader has read.
  std::optional<double> startTime() const { return start_time_; }
  std::optional<double> baseTime() const { return base_time_; }
  // "1.3", or empty when the log has no version line.
  const std::string& version() const { return version_; }
  // The number of the line last read (1-based).
  size_t lineNumber() const { return line_number_; }

 private:
  // Handles a line that starts with '#'; false with `error` set for a malformed one.
  bool readComment(std::string_view line, std::string* error);

  std::string_view rest_;
  DecodeLimits limits_;
  size_t line_number_ = 0;
  std::optional<double> start_time_;
  std::optional<double> base_time_;
  std::string version_;
};

struct IntervalLog {
  std::optional<double> start_time;
  std::optional<double> base_time;
  std::string version;
  std::vector<IntervalLogEntry> entries;
};

// A whole log at once, for logs known to be small. Besides `limits` per histogram, the
// histograms together may hold at most `max_total_counts` counts (8 bytes each).
std::optional<IntervalLog> readIntervalLog(std::string_view text, std::string* error,
                                           const DecodeLimits& limits = {},
                                           size_t max_total_counts = size_t{1} << 25);

}  // namespace portd::load
