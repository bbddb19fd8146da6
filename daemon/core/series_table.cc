#include "core/series_table.h"

#include <bit>
#include <cmath>
#include <cstring>

namespace portd::core {

SeriesTable::SeriesTable(std::string label, std::vector<std::string> counters,
                         std::vector<std::string> gauges, size_t capacity)
    : label_(std::move(label)),
      counters_(std::move(counters)),
      gauges_(std::move(gauges)),
      capacity_(capacity),
      columns_(counters_.size() + gauges_.size()),
      slots_(std::make_unique<Slot[]>(capacity)),
      values_(std::make_unique<std::atomic<uint64_t>[]>(capacity * columns_)),
      generations_(capacity, 0) {
  free_.reserve(capacity);
  // Highest first, so that rows are taken from 0 up: a small table stays in a few cache lines.
  for (size_t i = capacity; i > 0; --i) {
    free_.push_back(static_cast<uint32_t>(i - 1));
  }
}

// The writer's side of the seqlock, without fences (which TSan does not model): every store
// to a row after the odd sequence number is a release (as plain a store as a relaxed one on
// x86), so a reader whose acquire load sees any of them also sees the odd number.
void SeriesTable::beginWrite(Slot& s) {
  s.sequence.store(s.sequence.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

void SeriesTable::endWrite(Slot& s) {
  s.sequence.store(s.sequence.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

SeriesTable::Id SeriesTable::open(std::string_view value) {
  if (free_.empty()) {
    return {};
  }
  const uint32_t row = free_.back();
  free_.pop_back();
  Slot& s = slots_[row];
  beginWrite(s);
  std::array<uint64_t, kWords> words{};
  std::memcpy(words.data(), value.data(), std::min(value.size(), kMaxValueLen));
  for (size_t i = 0; i < kWords; ++i) {
    s.words[i].store(words[i], std::memory_order_release);
  }
  for (size_t c = 0; c < columns_; ++c) {
    values_[row * columns_ + c].store(0, std::memory_order_release);
  }
  s.length.store(static_cast<uint32_t>(std::min(value.size(), kMaxValueLen)),
                 std::memory_order_release);
  endWrite(s);
  // 0 means "no row", so a generation skips it when it wraps.
  uint32_t& g = generations_[row];
  g = g + 1 == 0 ? 1 : g + 1;
  ++live_;
  return {row, g};
}

bool SeriesTable::close(Id id) {
  if (!current(id)) {
    return false;
  }
  Slot& s = slots_[id.row];
  beginWrite(s);
  s.length.store(0, std::memory_order_release);
  endWrite(s);
  uint32_t& g = generations_[id.row];  // the id is stale from now on
  g = g + 1 == 0 ? 1 : g + 1;
  free_.push_back(id.row);
  --live_;
  return true;
}

void SeriesTable::set(Id id, size_t gauge, double value) {
  if (current(id) && gauge < gauges_.size() && std::isfinite(value)) {
    values_[id.row * columns_ + counters_.size() + gauge].store(std::bit_cast<uint64_t>(value),
                                                                std::memory_order_release);
  }
}

bool SeriesTable::readRow(const Slot& s, size_t row, Row* out) const {
  const uint32_t before = s.sequence.load(std::memory_order_acquire);
  if ((before & 1) != 0) {
    return false;
  }
  const uint32_t length = s.length.load(std::memory_order_acquire);
  std::array<uint64_t, kWords> words{};
  for (size_t i = 0; i < kWords; ++i) {
    words[i] = s.words[i].load(std::memory_order_acquire);
  }
  out->counters.resize(counters_.size());
  out->gauges.resize(gauges_.size());
  for (size_t c = 0; c < counters_.size(); ++c) {
    out->counters[c] = values_[row * columns_ + c].load(std::memory_order_acquire);
  }
  for (size_t g = 0; g < gauges_.size(); ++g) {
    out->gauges[g] = std::bit_cast<double>(
        values_[row * columns_ + counters_.size() + g].load(std::memory_order_acquire));
  }
  // Acquire loads above: one that read a store the writer made after `before` (each of its
  // stores to a row is a release) makes this read see that the row changed.
  if (s.sequence.load(std::memory_order_relaxed) != before) {
    return false;
  }
  out->value.assign(reinterpret_cast<const char*>(words.data()),
                    std::min<size_t>(length, kMaxValueLen));
  return true;
}

std::vector<SeriesTable::Row> SeriesTable::snapshot() const {
  std::vector<Row> rows;
  for (size_t i = 0; i < capacity_; ++i) {
    const Slot& s = slots_[i];
    // Most rows of a large table are free: one load says so, without copying anything.
    if (s.length.load(std::memory_order_relaxed) == 0 &&
        (s.sequence.load(std::memory_order_relaxed) & 1) == 0) {
      continue;
    }
    Row row;
    for (int attempt = 0; attempt < 4; ++attempt) {
      if (readRow(s, i, &row)) {
        if (!row.value.empty()) {
          rows.push_back(std::move(row));
        }
        break;
      }
    }
  }
  return rows;
}

bool SeriesTable::validValue(std::string_view value) {
  if (value.empty() || value.size() > kMaxValueLen) {
    return false;
  }
  // UTF-8 as RFC 3629 has it: no overlong forms, no surrogates, nothing above U+10FFFF. The
  // exposition format and JSON both need it.
  const auto* p = reinterpret_cast<const unsigned char*>(value.data());
  const size_t n = value.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    size_t extra = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      extra = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      extra = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= n) {
      return false;
    }
    for (size_t k = 1; k <= extra; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if ((extra == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (extra == 3 && (cp < 0x10000 || cp > 0x10ffff))) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

}  // namespace portd::core
