// HdrHistogram's interval log: what the writer prints, a write/read round trip, a log written
// by jHiccup read back to the totals HdrHistogram's own tests expect, and malformed logs, each
// refused with the number of its line.

#include "load/interval_log.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

using namespace portd::load;

namespace {

constexpr int64_t kHour = 3'600'000'000;

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The error reading `log` gives; fails the test if it reads.
std::string readError(std::string_view log) {
  std::string error;
  std::optional<IntervalLog> read = readIntervalLog(log, &error);
  EXPECT_FALSE(read) << log;
  EXPECT_FALSE(error.empty()) << log;
  return error;
}

Histogram latencies(int64_t scale) {
  Histogram h;
  for (int64_t v = 1; v <= 1000; ++v) {
    h.record(v * scale);
  }
  return h;
}

}  // namespace

TEST(IntervalLog, WritesTheHeaderAsJavasWriterDoes) {
  IntervalLogHeader header;
  header.start_time = 1441753532.570;
  header.comment = "Logged with portd load";
  EXPECT_EQ(formatLogHeader(header),
            "#[Logged with portd load]\n"
            "#[Histogram log format version 1.3]\n"
            "#[StartTime: 1441753532.570 (seconds since epoch), Tue Sep 08 23:05:32 UTC 2015]\n"
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
            "\"Interval_Compressed_Histogram\"\n");
  header.comment.clear();
  header.base_time = 1441753500.0;
  EXPECT_EQ(formatLogHeader(header),
            "#[Histogram log format version 1.3]\n"
            "#[StartTime: 1441753532.570 (seconds since epoch), Tue Sep 08 23:05:32 UTC 2015]\n"
            "#[BaseTime: 1441753500.000 (seconds since epoch)]\n"
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
            "\"Interval_Compressed_Histogram\"\n");
}

TEST(IntervalLog, WritesTheMaxInMilliseconds) {
  Histogram h;
  h.record(1234567);
  // 1234567 µs lies in the range 1233920..1234943: the max is its top, in ms.
  std::string line = formatLogEntry("", 1.5, 2.0, h);
  EXPECT_EQ(line, "1.500,2.000,1234.943," + encodeCompressedBase64(h) + "\n");
  EXPECT_EQ(formatLogEntry("get", 0.0, 1.0, Histogram()),
            "Tag=get,0.000,1.000,0.000," + encodeCompressedBase64(Histogram()) + "\n");
  for (const char* bad : {"a,b", "a b", "a\nb", "a\rb"}) {
    EXPECT_THROW(formatLogEntry(bad, 0.0, 1.0, h), std::invalid_argument) << bad;
  }
}

TEST(IntervalLog, ReadsBackWhatItWrites) {
  IntervalLogHeader header;
  header.start_time = 1700000000.123;
  header.base_time = 1700000000.0;
  std::string log = formatLogHeader(header);
  log += formatLogEntry("", 0.123, 1.0, latencies(1));
  log += formatLogEntry("get", 1.123, 1.0, latencies(100));
  log += formatLogEntry("put", 2.123, 0.5, Histogram());
  Histogram wide(1, kHour * 10, 2);
  wide.record(kHour * 5);
  log += formatLogEntry("", 2.623, 0.25, wide);

  std::string error;
  std::optional<IntervalLog> read = readIntervalLog(log, &error);
  ASSERT_TRUE(read) << error;
  EXPECT_EQ(read->version, "1.3");
  EXPECT_EQ(read->start_time, 1700000000.123);
  EXPECT_EQ(read->base_time, 1700000000.0);
  ASSERT_EQ(read->entries.size(), 4u);
  EXPECT_EQ(read->entries[0].tag, "");
  EXPECT_EQ(read->entries[0].start, 0.123);
  EXPECT_EQ(read->entries[0].length, 1.0);
  EXPECT_EQ(read->entries[0].histogram, latencies(1));
  EXPECT_EQ(read->entries[0].max, 1.0);
  EXPECT_EQ(read->entries[1].tag, "get");
  EXPECT_EQ(read->entries[1].histogram, latencies(100));
  EXPECT_EQ(read->entries[1].max, latencies(100).max() / 1000.0);
  EXPECT_EQ(read->entries[2].tag, "put");
  EXPECT_EQ(read->entries[2].length, 0.5);
  EXPECT_EQ(read->entries[2].histogram.totalCount(), 0);
  EXPECT_EQ(read->entries[3].histogram, wide);
  EXPECT_EQ(read->entries[3].max, wide.max() / 1000.0);

  // Windows line endings and blank lines change nothing.
  std::string crlf;
  for (char c : log) {
    crlf += c == '\n' ? std::string("\r\n\r\n") : std::string(1, c);
  }
  std::optional<IntervalLog> again = readIntervalLog(crlf, &error);
  ASSERT_TRUE(again) << error;
  ASSERT_EQ(again->entries.size(), 4u);
  EXPECT_EQ(again->entries[3].histogram, wide);
}

TEST(IntervalLog, StreamsOneIntervalAtATime) {
  std::string log = formatLogHeader({}) + formatLogEntry("", 0.0, 1.0, latencies(1)) +
                    formatLogEntry("", 1.0, 1.0, latencies(2));
  IntervalLogReader reader(log);
  std::string error;
  std::optional<IntervalLogEntry> first = reader.next(&error);
  ASSERT_TRUE(first) << error;
  EXPECT_EQ(reader.lineNumber(), 4u);
  EXPECT_EQ(reader.startTime(), 0.0);
  std::optional<IntervalLogEntry> second = reader.next(&error);
  ASSERT_TRUE(second) << error;
  EXPECT_EQ(second->histogram, latencies(2));
  EXPECT_FALSE(reader.next(&error));
  EXPECT_TRUE(error.empty()) << error;
}

TEST(IntervalLog, ReadsJHiccupsLogToHdrHistogramsTotals) {
  // From HdrHistogram's test resources; HistogramLogReaderWriterTest.jHiccupV2Log expects
  // these numbers of it. Its histograms count nanoseconds from 20000 with 2 digits; they are
  // added into one of 3 digits from 1, as the test's Histogram(3) is.
  std::string text = readFile(PORTD_SOURCE_DIR "/tests/unit/data/jHiccup-2.0.7S.logV2.hlog");
  ASSERT_FALSE(text.empty());
  std::string error;
  std::optional<IntervalLog> log = readIntervalLog(text, &error);
  ASSERT_TRUE(log) << error;
  EXPECT_EQ(log->version, "1.2");
  EXPECT_EQ(log->start_time, 1441753532.570);
  EXPECT_FALSE(log->base_time);
  ASSERT_EQ(log->entries.size(), 38u);
  Histogram accumulated(1, kHour * 1000, 3);
  int64_t total = 0;
  for (const IntervalLogEntry& entry : log->entries) {
    EXPECT_EQ(entry.histogram.lowest(), 20000);
    EXPECT_EQ(entry.histogram.digits(), 2);
    total += entry.histogram.totalCount();
    accumulated.add(entry.histogram);
  }
  EXPECT_EQ(total, 30874);
  EXPECT_EQ(accumulated.totalCount(), 30874);
  EXPECT_EQ(accumulated.valueAtPercentile(99.9), 956825599);
  EXPECT_EQ(accumulated.max(), 981991423);
  EXPECT_EQ(log->entries[7].start, 7.134);
  EXPECT_EQ(log->entries[7].length, 1.515);
  EXPECT_EQ(log->entries[7].max, 960.496);
  // Each histogram re-encodes to one that decodes to the same counts.
  for (const IntervalLogEntry& entry : log->entries) {
    std::optional<Histogram> back =
        decodeBase64Histogram(encodeCompressedBase64(entry.histogram), &error);
    ASSERT_TRUE(back) << error;
    EXPECT_EQ(*back, entry.histogram);
  }
}

TEST(IntervalLog, RefusesMalformedLinesByNumber) {
  const std::string header = formatLogHeader({});  // 3 lines
  const std::string histogram = encodeCompressedBase64(latencies(1));
  struct Case {
    std::string line;
    const char* says;
  };
  for (const Case& c : {
           Case{"1.0,2.0,3.0", "4 comma-separated fields"},
           Case{"1.0,2.0,3.0," + histogram + ",extra", "not more"},
           Case{"Tag=x", "not 1"},
           Case{"Tag=x,1.0", "not 1"},
           Case{"one,2.0,3.0," + histogram, "start"},
           // Control characters are quoted, not sent to the terminal.
           Case{"\x1b[2J,2.0,3.0," + histogram, "\"\\x1b[2J\""},
           Case{"1.0,-2.0,3.0," + histogram, "length"},
           Case{"1.0,nan,3.0," + histogram, "length"},
           Case{"inf,2.0,3.0," + histogram, "start"},
           Case{"1.0,2.0,," + histogram, "max"},
           Case{" 1.0,2.0,3.0," + histogram, "start"},
           Case{"1.0,2.0,3.0,", "too short"},
           Case{"1.0,2.0,3.0,HISTFAAA!", "base64"},
           Case{"1.0,2.0,3.0," + histogram.substr(0, histogram.size() - 4), "compressed"},
           Case{"1.0,2.0,3.0,SGVsbG8=", "cookie"},
           Case{std::string("\x01\x02\xff garbage", 11), "fields"},
           Case{"#[StartTime: soon (seconds since epoch)]", "StartTime"},
           Case{"#[BaseTime: ]", "BaseTime"},
           Case{"#[Histogram log format version 2.0]", "version"},
           Case{"#[Histogram log format version 1.x]", "version"},
           Case{"#[Histogram log format version 1.3", "version"},
       }) {
    std::string error = readError(header + c.line + "\n");
    EXPECT_EQ(error.rfind("line 4: ", 0), 0u) << c.line << " -> " << error;
    EXPECT_NE(error.find(c.says), std::string::npos) << c.line << " -> " << error;
  }
  // A bad line stops the reader for good.
  const std::string log = header + "x\n" + formatLogEntry("", 0, 1, Histogram());
  IntervalLogReader reader(log);
  std::string error;
  EXPECT_FALSE(reader.next(&error));
  EXPECT_FALSE(error.empty());
  EXPECT_FALSE(reader.next(&error));
  EXPECT_TRUE(error.empty());
}

TEST(IntervalLog, LimitsWhatAWholeLogHolds) {
  std::string log = formatLogHeader({});
  for (int i = 0; i < 5; ++i) {
    log += formatLogEntry("", i, 1.0, Histogram());
  }
  std::string error;
  // Five default histograms of 23552 counts each.
  EXPECT_TRUE(readIntervalLog(log, &error, {}, 5 * 23552)) << error;
  EXPECT_FALSE(readIntervalLog(log, &error, {}, 4 * 23552));
  EXPECT_EQ(error.rfind("line 8: ", 0), 0u) << error;
  DecodeLimits limits;
  limits.max_counts = 1000;
  EXPECT_FALSE(readIntervalLog(log, &error, limits));
  EXPECT_EQ(error.rfind("line 4: ", 0), 0u) << error;
}
