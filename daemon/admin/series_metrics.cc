#include "admin/series_metrics.h"

#include <fmt/format.h>

#include <algorithm>

#include "admin/prometheus_text.h"

namespace portd::admin {

namespace {

// Every label name of every listener, first seen order: a family's samples must be together.
std::vector<std::string> labelNames(const std::vector<Totals>& totals) {
  std::vector<std::string> names;
  for (const Totals& t : totals) {
    for (const SeriesTotals& s : t.series) {
      if (std::find(names.begin(), names.end(), s.label) == names.end()) {
        names.push_back(s.label);
      }
    }
  }
  return names;
}

// One family: its header, then for every listener with label `label` each value's (name,
// figure) pairs that `pick` gives.
template <typename Pick>
void family(std::string& out, const std::string& name, const char* type, const std::string& help,
            const std::string& label, const std::vector<std::string>& labels,
            const std::vector<Totals>& totals, Pick pick) {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n", name, help, type);
  for (size_t i = 0; i < totals.size(); ++i) {
    for (const SeriesTotals& s : totals[i].series) {
      if (s.label != label) {
        continue;
      }
      for (const auto& [value, figures] : s.values) {
        const std::string escaped = escapeLabelValue(value);
        for (const auto& [figure, v] : pick(figures)) {
          out += fmt::format("{}{{{},name=\"{}\",{}=\"{}\"}} {}\n", name, labels[i], figure, label,
                             escaped, v);
        }
      }
    }
  }
}

}  // namespace

std::string renderSeries(const std::vector<std::string>& labels,
                         const std::vector<Totals>& totals) {
  std::string out;
  // Label and column names were checked when declared: letters, digits and '_'.
  for (const std::string& label : labelNames(totals)) {
    family(
        out, fmt::format("portd_handler_{}_events_total", label), "counter",
        fmt::format("Events counted by handlers for each {}, by the name the handler gave "
                    "them.",
                    label),
        label, labels, totals, [](const SeriesValues& v) -> const auto& { return v.counters; });
    family(
        out, fmt::format("portd_handler_{}_value", label), "gauge",
        fmt::format("Values measured by handlers for each {}, by the name the handler gave "
                    "them (the name carries the unit).",
                    label),
        label, labels, totals, [](const SeriesValues& v) -> const auto& { return v.gauges; });
  }
  return out;
}

}  // namespace portd::admin
