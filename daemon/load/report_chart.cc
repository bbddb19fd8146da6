#include "load/report_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "load/percentile_iterator.h"
#include "load/report_text.h"

namespace portd::load {

namespace {

constexpr double kWidth = 800;
constexpr double kHeight = 300;
constexpr double kLeft = 70;
constexpr double kRight = 45;
constexpr double kTop = 40;
constexpr double kBottom = 50;
constexpr double kMaxNines = 6;  // 99.9999%

// Short formatted pieces only (numbers, labels): paths are appended with appendPath().
void appendf(std::string& out, const char* fmt, auto... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, args...);
  out += buf;
}

void appendPath(std::string& out, const char* cls, const std::string& d) {
  out += "<path class=\"";
  out += cls;
  out += "\" d=\"";
  out += d.empty() ? "M0,0" : d;
  out += "\"/>\n";
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A round upper bound for an axis: 1, 2 or 5 times a power of ten.
double niceCeiling(double v) {
  if (v <= 0) {
    return 1;
  }
  const double p = std::pow(10, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (v <= m * p) {
      return m * p;
    }
  }
  return 10 * p;
}

struct Frame {
  double y0;  // top of this chart in the document
  double x(double fraction) const { return kLeft + fraction * (kWidth - kLeft - kRight); }
  double y(double fraction) const {
    return y0 + kTop + (1 - fraction) * (kHeight - kTop - kBottom);
  }
};

void axes(std::string& out, const Frame& f, const char* id, const char* title, const char* ylabel,
          double ymax, const char* yfmt) {
  appendf(out, "<g id=\"%s\">\n", id);
  appendf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"title\">%s</text>\n", kLeft, f.y0 + 22, title);
  appendf(out,
          "<text x=\"14\" y=\"%.1f\" class=\"label\" transform=\"rotate(-90 14 %.1f)\">%s</text>\n",
          f.y(0.5), f.y(0.5), ylabel);
  for (int i = 0; i <= 4; ++i) {
    const double fr = i / 4.0;
    appendf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>\n", f.x(0),
            f.y(fr), f.x(1), f.y(fr));
    char value[32];
    std::snprintf(value, sizeof value, yfmt, ymax * fr);
    appendf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%s</text>\n",
            f.x(0) - 6, f.y(fr) + 4, value);
  }
}

std::string spectrumPath(const Histogram& h, double ymax_ms, const Frame& f) {
  std::string d;
  PercentileIterator it(h, 5);
  PercentileRow row;
  while (it.next(&row)) {
    const double p = std::min(row.percentile, 100.0 - std::pow(10, 2 - kMaxNines));
    const double nines = std::log10(1.0 / (1.0 - p / 100.0));
    const double ms = static_cast<double>(row.value) / 1000.0;
    appendf(d, "%s%.1f,%.1f ", d.empty() ? "M" : "L", f.x(nines / kMaxNines),
            f.y(std::min(ms / ymax_ms, 1.0)));
  }
  return d;
}

}  // namespace

std::string renderSvg(const Result& r) {
  const double total_height = 2 * kHeight;
  std::string out;
  appendf(out,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
          "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
          kWidth, total_height, kWidth, total_height);
  out +=
      "<style>.grid{stroke:#ddd}.tick{fill:#555}.title{font-size:15px;font-weight:bold}"
      ".corrected{fill:none;stroke:#c0392b;stroke-width:2}"
      ".uncorrected{fill:none;stroke:#2980b9;stroke-width:2;stroke-dasharray:6 3}"
      ".answers{fill:none;stroke:#27ae60;stroke-width:2}.errors{fill:none;stroke:#c0392b;"
      "stroke-width:1.5}</style>\n";
  out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";

  // Latency by percentile.
  const Frame spectrum{0};
  const Histograms& h = r.histograms;
  const int64_t max_us = std::max(h.corrected.totalCount() ? h.corrected.max() : 0,
                                  h.uncorrected.totalCount() ? h.uncorrected.max() : 0);
  const double ymax_ms = niceCeiling(static_cast<double>(max_us) / 1000.0);
  axes(out, spectrum, "spectrum", "Latency by percentile", "latency (ms)", ymax_ms, "%g");
  static const char* kPercentLabels[] = {"0%",     "90%",     "99%",     "99.9%",
                                         "99.99%", "99.999%", "99.9999%"};
  for (int n = 0; n <= kMaxNines; ++n) {
    const double x = spectrum.x(n / kMaxNines);
    appendf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>\n", x,
            spectrum.y(0), x, spectrum.y(1));
    appendf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"middle\">%s</text>\n", x,
            spectrum.y(0) + 16, kPercentLabels[n]);
  }
  if (h.corrected.totalCount() > 0) {
    appendPath(out, "corrected", spectrumPath(h.corrected, ymax_ms, spectrum));
  }
  if (r.model == "open" && h.uncorrected.totalCount() > 0) {
    appendPath(out, "uncorrected", spectrumPath(h.uncorrected, ymax_ms, spectrum));
  }
  appendf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" fill=\"#c0392b\">%s</text>\n",
          spectrum.x(0) + 8, spectrum.y(1) + 14,
          r.model == "open" ? "corrected: from the intended start" : "from the send");
  if (r.model == "open") {
    appendf(out,
            "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" fill=\"#2980b9\">uncorrected: from "
            "the actual send</text>\n",
            spectrum.x(0) + 8, spectrum.y(1) + 28);
  }
  out += "</g>\n";

  // Answers and errors per second.
  const Frame rate{kHeight};
  uint64_t peak = 1;
  for (const Second& s : r.timeline) {
    peak = std::max({peak, s.completed, s.errors});
  }
  const double ymax = niceCeiling(static_cast<double>(peak));
  axes(out, rate, "throughput", "Answers and errors per second", "per second", ymax, "%g");
  const size_t n = std::max<size_t>(r.timeline.size(), 1);
  for (size_t i = 0; i <= n; i += std::max<size_t>(1, n / 10)) {
    appendf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"middle\">%zus</text>\n",
            rate.x(static_cast<double>(i) / static_cast<double>(n)), rate.y(0) + 16, i);
  }
  std::string answers;
  std::string errors;
  for (size_t i = 0; i < r.timeline.size(); ++i) {
    const Second& s = r.timeline[i];
    for (double edge : {0.0, 1.0}) {
      const double x = rate.x((static_cast<double>(i) + edge) / static_cast<double>(n));
      appendf(answers, "%s%.1f,%.1f ", answers.empty() ? "M" : "L", x,
              rate.y(static_cast<double>(s.completed) / ymax));
      appendf(errors, "%s%.1f,%.1f ", errors.empty() ? "M" : "L", x,
              rate.y(static_cast<double>(s.errors) / ymax));
    }
  }
  appendPath(out, "answers", answers);
  appendPath(out, "errors", errors);
  out += "</g>\n</svg>\n";
  return out;
}

std::string renderHtml(const Result& r) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>portd load: " +
      escape(r.url) +
      "</title>\n<style>body{font-family:sans-serif;margin:2em;color:#222}"
      "pre{background:#f6f6f6;padding:1em;overflow:auto}</style>\n</head>\n<body>\n<h1>portd "
      "load: " +
      escape(r.url) + "</h1>\n<figure id=\"charts\">\n" + renderSvg(r) + "</figure>\n";
  // The summary without its long spectrum table (the chart shows it).
  std::string summary = formatSummary(r);
  const size_t spectrum = summary.find("\n  percentile spectrum");
  if (spectrum != std::string::npos) {
    summary.resize(spectrum + 1);
  }
  out += "<pre id=\"summary\">" + escape(summary) + "</pre>\n</body>\n</html>\n";
  return out;
}

}  // namespace portd::load
