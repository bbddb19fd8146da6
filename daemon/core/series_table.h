#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace portd::core {

// A set of labelled series: for each of at most `capacity` live values of one label (a peer's
// address), a row of counters and gauges. All memory is taken when the table is built; a row
// is opened and closed as its label value comes and goes, and updating it costs a load and a
// store, as core::Counter does.
//
// One writer (its worker thread) and any number of readers (a scrape on another thread). A
// row's label and its opening are published through a sequence number (a seqlock): a reader
// that finds it changed while it copied the row copies again, so it never sees a label with
// the figures of the value that held the row before. Every shared word is an atomic, so that
// nothing here is a data race. Names and sizes are fixed at construction: read without a lock.
class SeriesTable {
 public:
  static constexpr size_t kMaxValueLen = 128;
  static constexpr size_t kMaxCapacity = 65536;

  // An open row: its index and the generation it was opened with, so that a row closed and
  // opened again for another value is not written through an old id.
  struct Id {
    uint32_t row = 0;
    uint32_t generation = 0;  // 0: no row
  };

  SeriesTable(std::string label, std::vector<std::string> counters, std::vector<std::string> gauges,
              size_t capacity);
  SeriesTable(const SeriesTable&) = delete;
  SeriesTable& operator=(const SeriesTable&) = delete;

  const std::string& label() const { return label_; }
  const std::vector<std::string>& counters() const { return counters_; }
  const std::vector<std::string>& gauges() const { return gauges_; }
  size_t capacity() const { return capacity_; }
  size_t live() const { return live_; }  // writer only

  // Writer. A row for `value` with every figure at 0; a generation of 0 when all rows are
  // taken. The value must be valid (see validValue): it is not checked here.
  Id open(std::string_view value);
  // Writer. False for a stale id (closed already, or never opened).
  bool close(Id id);

  // Writer, the hot path: a bounds check, a generation check, one load and one store.
  void add(Id id, size_t counter, uint64_t delta) {
    if (current(id) && counter < counters_.size()) {
      std::atomic<uint64_t>& v = values_[id.row * columns_ + counter];
      // A release, as plain a store as a relaxed one on x86: a reader who sees the new figure
      // also sees the row's opening before it (see readRow()).
      v.store(v.load(std::memory_order_relaxed) + delta, std::memory_order_release);
    }
  }
  void set(Id id, size_t gauge, double value);

  // One row as a reader copied it.
  struct Row {
    std::string value;
    std::vector<uint64_t> counters;
    std::vector<double> gauges;
  };
  // Reader, any thread: the rows open now. A row being opened or closed while it is read is
  // read again (a few times at most; then it is left out of this snapshot).
  std::vector<Row> snapshot() const;

  // Whether `value` may be a label value: 1 to kMaxValueLen bytes of UTF-8.
  static bool validValue(std::string_view value);

 private:
  static constexpr size_t kWords = kMaxValueLen / 8;
  struct Slot {
    // Odd while the writer changes the row's label or openness; see snapshot().
    std::atomic<uint32_t> sequence{0};
    std::atomic<uint32_t> length{0};  // of the label value; 0: the row is not open
    std::array<std::atomic<uint64_t>, kWords> words{};
  };

  bool current(Id id) const {
    return id.row < capacity_ && id.generation != 0 && generations_[id.row] == id.generation;
  }
  // The seqlock's write side around a change of the row's label or openness.
  void beginWrite(Slot& s);
  void endWrite(Slot& s);
  bool readRow(const Slot& s, size_t row, Row* out) const;

  const std::string label_;
  const std::vector<std::string> counters_;
  const std::vector<std::string> gauges_;
  const size_t capacity_;
  const size_t columns_;
  std::unique_ptr<Slot[]> slots_;
  // Counters first, then gauges (a double's bits), columns_ per row.
  std::unique_ptr<std::atomic<uint64_t>[]> values_;
  // Writer only: each row's generation, and the rows that are free.
  std::vector<uint32_t> generations_;
  std::vector<uint32_t> free_;
  size_t live_ = 0;
};

}  // namespace portd::core
