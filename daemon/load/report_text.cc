#include "load/report_text.h"

#include <cstdio>

#include "load/percentile_iterator.h"

namespace portd::load {

namespace {

constexpr double kPercentiles[] = {50, 90, 99, 99.9, 99.99};

// Short formatted pieces only: strings of unbounded length are appended as they are.
void appendf(std::string& out, const char* fmt, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, fmt, args...);
  out += buf;
}

std::string ms(int64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(us) / 1000.0);
  return buf;
}

void appendLatencyRow(std::string& out, const char* name, const Histogram& h) {
  if (h.totalCount() == 0) {
    return;
  }
  appendf(out, "  %-22s", name);
  for (double p : kPercentiles) {
    appendf(out, " %10s", ms(h.valueAtPercentile(p)).c_str());
  }
  appendf(out, " %10s\n", ms(h.max()).c_str());
}

}  // namespace

std::string formatSummary(const Result& r) {
  std::string out;
  out += "portd load " + r.url + "\n";
  if (r.model == "open") {
    out += "  open model: " + r.stages;
    appendf(out, " (%.1f requests/s asked), ", r.asked_rate);
  } else if (r.model == "receive") {
    appendf(out, "  receiving a source's stream: ");
  } else {
    appendf(out, "  closed model: ");
  }
  appendf(out, "%d thread(s), %d connection(s)", r.threads, r.connections);
  if (r.model != "receive") {
    appendf(out, ", pipeline %d", r.pipeline);
  }
  appendf(out, "%s%s\n", r.sources > 1 ? ", merged runs: " : "",
          r.sources > 1 ? std::to_string(r.sources).c_str() : "");
  if (r.interrupted) {
    out += "  interrupted: the figures cover the run until then\n";
  }
  const Counters& c = r.counters;
  if (r.model == "receive") {
    const double bytes_s = r.seconds > 0 ? static_cast<double>(c.bytes_in) / r.seconds : 0;
    appendf(out,
            "  %llu messages received in %.2f s: %.1f messages/s, %.0f bytes/s (%.3f Mbit/s)\n",
            static_cast<unsigned long long>(c.completed), r.seconds, r.achievedRate(), bytes_s,
            bytes_s * 8 / 1e6);
  } else {
    appendf(out, "  %llu sent, %llu answered in %.2f s: %.1f requests/s",
            static_cast<unsigned long long>(c.sent), static_cast<unsigned long long>(c.completed),
            r.seconds, r.achievedRate());
    if (r.model == "open" && r.asked_rate > 0) {
      appendf(out, " (%.2f%% of the rate asked)", 100.0 * r.achievedRate() / r.asked_rate);
    }
    out += "\n";
  }
  appendf(out, "  %llu connection(s) opened, %llu bytes out, %llu bytes in\n",
          static_cast<unsigned long long>(c.connections),
          static_cast<unsigned long long>(c.bytes_out),
          static_cast<unsigned long long>(c.bytes_in));
  if (c.errorTotal() == 0) {
    out += "  errors: none\n";
  } else {
    out += "  errors:";
    for (size_t i = 0; i < c.errors.size(); ++i) {
      if (c.errors[i] > 0) {
        appendf(out, " %s %llu", std::string(errorName(static_cast<ErrorKind>(i))).c_str(),
                static_cast<unsigned long long>(c.errors[i]));
      }
    }
    out += "\n";
  }
  uint64_t statuses = 0;
  for (uint64_t s : c.status) {
    statuses += s;
  }
  if (statuses > 0) {
    out += "  status:";
    static const char* kClass[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
    for (size_t i = 0; i < c.status.size(); ++i) {
      if (c.status[i] > 0) {
        appendf(out, " %s %llu", kClass[i], static_cast<unsigned long long>(c.status[i]));
      }
    }
    out += "\n";
  }
  uint64_t rcodes = 0;
  for (uint64_t n : c.rcode) {
    rcodes += n;
  }
  if (rcodes > 0) {
    out += "  dns:";
    for (size_t i = 0; i < c.rcode.size(); ++i) {
      if (c.rcode[i] > 0) {
        appendf(out, " %s %llu", std::string(rcodeName(i)).c_str(),
                static_cast<unsigned long long>(c.rcode[i]));
      }
    }
    if (c.truncated > 0) {
      appendf(out, "; truncated (TC=1) %llu", static_cast<unsigned long long>(c.truncated));
    }
    out += "\n";
  }
  // resp: error replies are answers (the server said no), not errors of the run; shown for
  // every resp run so that "0" is seen to have been counted.
  if (c.resp_errors > 0 || r.url.starts_with("resp://") || r.url.starts_with("redis://")) {
    appendf(out, "  resp error replies: %llu of %llu answers\n",
            static_cast<unsigned long long>(c.resp_errors),
            static_cast<unsigned long long>(c.completed));
  }
  if (c.smtp_replies[0] + c.smtp_replies[1] + c.smtp_replies[2] > 0) {
    appendf(out, "  smtp replies: 2xx %llu, 4xx %llu, 5xx %llu\n",
            static_cast<unsigned long long>(c.smtp_replies[0]),
            static_cast<unsigned long long>(c.smtp_replies[1]),
            static_cast<unsigned long long>(c.smtp_replies[2]));
  }
  if (c.duplicates + c.reordered + c.late > 0 || r.jitter_us > 0) {
    appendf(out, "  datagrams: %llu duplicated, %llu reordered, %llu late; jitter %.3f ms\n",
            static_cast<unsigned long long>(c.duplicates),
            static_cast<unsigned long long>(c.reordered), static_cast<unsigned long long>(c.late),
            r.jitter_us / 1000.0);
  }
  out +=
      "\n  latency (ms)                  p50        p90        p99      p99.9     p99.99        "
      "max\n";
  appendLatencyRow(out,
                   r.model == "open"      ? "corrected (intended)"
                   : r.model == "receive" ? "one-way (loopback)"
                                          : "from send",
                   r.histograms.corrected);
  if (r.model == "receive" && r.histograms.corrected.totalCount() == 0) {
    out += "  (one-way delay is measured only from this host's own clock: loopback targets)\n";
  }
  if (r.model == "open") {
    appendLatencyRow(out, "uncorrected (sent)", r.histograms.uncorrected);
  }
  appendLatencyRow(out, "connect", r.histograms.connect);
  appendLatencyRow(out, "first byte", r.histograms.first_byte);
  if (r.model == "open") {
    appendLatencyRow(out, "generator lag", r.histograms.lag);
    if (r.histograms.lag.valueAtPercentile(99.0) > 10'000) {
      out +=
          "  warning: the generator could not keep the schedule (its p99 lag is over 10 ms); "
          "the target or this machine saturated first\n";
    }
  }
  if (r.histograms.corrected.totalCount() > 0) {
    out += "\n  percentile spectrum (corrected latency)\n";
    out += "       value(ms)   percentile   count   1/(1-percentile)\n";
    PercentileIterator it(r.histograms.corrected, 5);
    PercentileRow row;
    while (it.next(&row)) {
      const double inv = row.percentile < 100 ? 1.0 / (1.0 - row.percentile / 100.0) : 0;
      if (row.percentile < 100) {
        appendf(out, "  %14s   %10.6f   %llu   %.2f\n", ms(row.value).c_str(),
                row.percentile / 100.0, static_cast<unsigned long long>(row.total_count), inv);
      } else {
        appendf(out, "  %14s   %10.6f   %llu\n", ms(row.value).c_str(), 1.0,
                static_cast<unsigned long long>(row.total_count));
      }
    }
  }
  return out;
}

}  // namespace portd::load
