#include "handlers/abi/series_api.h"

#include <cctype>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/loop_context.h"
#include "core/series_table.h"
#include "handlers/abi/abi_worker.h"
#include "net/listener_stats.h"

namespace portd::handlers::abi {

static_assert(PORTD_SERIES_MAX_VALUE_LEN == core::SeriesTable::kMaxValueLen);
static_assert(PORTD_SERIES_MAX_VALUES == core::SeriesTable::kMaxCapacity);

namespace {

constexpr size_t kMaxLabelLen = 32;
constexpr size_t kMaxColumnLen = 64;

// A label name becomes part of a metric name (portd_handler_L_events_total), so it is held to
// what both allow, in lower case, and may not hide one of the labels portd sets itself.
bool validLabel(std::string_view l) {
  if (l.empty() || l.size() > kMaxLabelLen || !(l[0] >= 'a' && l[0] <= 'z')) {
    return false;
  }
  for (char c : l) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return l != "listener" && l != "handler" && l != "protocol" && l != "name";
}

bool validColumn(const char* name) {
  if (name == nullptr || name[0] == '\0') {
    return false;
  }
  std::string_view n(name);
  if (n.size() > kMaxColumnLen) {
    return false;
  }
  for (char c : n) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) {
      return false;
    }
  }
  return true;
}

// An id: the row's generation above, the set and the row below. A generation is never 0, so
// neither is an id.
portd_series_t encode(size_t set, core::SeriesTable::Id id) {
  return (uint64_t{id.generation} << 32) | (uint64_t{set} << 24) | id.row;
}

core::SeriesTable* decode(portd_worker* w, portd_series_t series, core::SeriesTable::Id* id) {
  const size_t set = (series >> 24) & 0xff;
  if (w == nullptr || set >= w->series_count) {
    return nullptr;
  }
  id->row = static_cast<uint32_t>(series & 0xffffff);
  id->generation = static_cast<uint32_t>(series >> 32);
  return w->series[set].get();
}

bool onOwnWorker(const portd_worker* w) {
  return w != nullptr && w->loop != nullptr && core::LoopContext::current() == w->loop;
}

}  // namespace

int seriesDeclare(portd_worker* w, const char* label, uint32_t max_values,
                  const char* const* counters, size_t counter_count, const char* const* gauges,
                  size_t gauge_count) {
  if (w == nullptr || !w->creating || label == nullptr || !validLabel(label) ||
      w->series_count == w->series.size() || max_values == 0 ||
      max_values > core::SeriesTable::kMaxCapacity || counter_count + gauge_count == 0 ||
      counter_count + gauge_count > PORTD_SERIES_MAX_COLUMNS ||
      (counter_count > 0 && counters == nullptr) || (gauge_count > 0 && gauges == nullptr)) {
    return PORTD_EINVAL;
  }
  for (size_t i = 0; i < w->series_count; ++i) {
    if (w->series[i]->label() == label) {
      return PORTD_EINVAL;  // one set per label name: its series would mingle
    }
  }
  std::vector<std::string> names;
  for (size_t i = 0; i < counter_count + gauge_count; ++i) {
    const char* name = i < counter_count ? counters[i] : gauges[i - counter_count];
    if (!validColumn(name)) {
      return PORTD_EINVAL;
    }
    for (const std::string& seen : names) {
      if (seen == name) {
        return PORTD_EINVAL;  // /stats keeps counters and gauges of a value in one object
      }
    }
    names.emplace_back(name);
  }
  std::vector<std::string> gauge_names(names.begin() + static_cast<ptrdiff_t>(counter_count),
                                       names.end());
  names.resize(counter_count);
  auto table = std::make_shared<core::SeriesTable>(label, std::move(names), std::move(gauge_names),
                                                   max_values);
  w->stats->series.add(table);
  w->series[w->series_count] = std::move(table);
  return static_cast<int>(w->series_count++);
}

int seriesOpen(portd_worker* w, int set, const char* value, size_t len, portd_series_t* out) {
  if (!onOwnWorker(w)) {
    return PORTD_EWRONGTHREAD;
  }
  if (set < 0 || static_cast<size_t>(set) >= w->series_count || out == nullptr ||
      value == nullptr || !core::SeriesTable::validValue(std::string_view(value, len))) {
    return PORTD_EINVAL;
  }
  const core::SeriesTable::Id id = w->series[static_cast<size_t>(set)]->open({value, len});
  if (id.generation == 0) {
    return PORTD_ENOMEM;
  }
  *out = encode(static_cast<size_t>(set), id);
  return PORTD_OK;
}

void seriesAdd(portd_worker* w, portd_series_t series, int counter, uint64_t delta) {
  core::SeriesTable::Id id;
  if (core::SeriesTable* t = decode(w, series, &id); t != nullptr && counter >= 0) {
    t->add(id, static_cast<size_t>(counter), delta);
  }
}

void seriesSet(portd_worker* w, portd_series_t series, int gauge, double value) {
  core::SeriesTable::Id id;
  if (core::SeriesTable* t = decode(w, series, &id); t != nullptr && gauge >= 0) {
    t->set(id, static_cast<size_t>(gauge), value);
  }
}

int seriesClose(portd_worker* w, portd_series_t series) {
  if (!onOwnWorker(w)) {
    return PORTD_EWRONGTHREAD;
  }
  core::SeriesTable::Id id;
  core::SeriesTable* t = decode(w, series, &id);
  return t != nullptr && t->close(id) ? PORTD_OK : PORTD_ECLOSED;
}

void seriesRelease(portd_worker* w) {
  for (size_t i = 0; i < w->series_count; ++i) {
    w->stats->series.remove(w->series[i].get());
    w->series[i].reset();
  }
  w->series_count = 0;
}

}  // namespace portd::handlers::abi
