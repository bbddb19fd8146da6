// Labelled series (the handler interface's series_declare) summed for /metrics and /stats.

#include <algorithm>

#include "admin/totals.h"

namespace portd::admin {

namespace {

template <typename T, typename Merge>
void mergeInto(std::vector<std::pair<std::string, T>>& into, const std::string& name, T value,
               Merge merge) {
  auto found =
      std::find_if(into.begin(), into.end(), [&](const auto& p) { return p.first == name; });
  if (found == into.end()) {
    into.emplace_back(name, value);
  } else {
    found->second = merge(found->second, value);
  }
}

}  // namespace

void sumSeries(const net::HandlerSeries& series, std::vector<SeriesTotals>* out) {
  for (const auto& table : series.tables()) {
    auto same = [&](const SeriesTotals& s) { return s.label == table->label(); };
    auto at = std::find_if(out->begin(), out->end(), same);
    if (at == out->end()) {
      out->push_back(SeriesTotals{table->label(), {}});
      at = out->end() - 1;
    }
    for (const core::SeriesTable::Row& row : table->snapshot()) {
      SeriesValues& v = at->values[row.value];
      for (size_t c = 0; c < row.counters.size(); ++c) {
        mergeInto(v.counters, table->counters()[c], row.counters[c],
                  [](uint64_t a, uint64_t b) { return a + b; });
      }
      for (size_t g = 0; g < row.gauges.size(); ++g) {
        mergeInto(v.gauges, table->gauges()[g], row.gauges[g],
                  [](double a, double b) { return std::max(a, b); });
      }
    }
  }
}

}  // namespace portd::admin
