#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace portd::handlers::http {

// Probabilities are kept in parts per million: "2.5" percent is 25000.
inline constexpr uint32_t kPpm = 1'000'000;

// A knob value drawn per request from a probability list. "503:10,429:5" means 503 with
// probability 10%, 429 with 5%, and otherwise the knob's default; "503" alone means always 503;
// "503:10,200" gives the entry without a percentage whatever the others leave (90%). Fixed
// capacity, so that parsing a query allocates nothing.
template <typename T>
class Choices {
 public:
  static constexpr size_t kMax = 16;

  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  T value(size_t i) const { return values_[i]; }
  // The probability of entry i, in ppm.
  uint32_t ppm(size_t i) const { return cumulative_[i] - (i == 0 ? 0 : cumulative_[i - 1]); }

  // `roll` is uniform in [0, kPpm); a roll past every entry gives `fallback`.
  T pick(uint32_t roll, T fallback) const {
    for (size_t i = 0; i < count_; ++i) {
      if (roll < cumulative_[i]) {
        return values_[i];
      }
    }
    return fallback;
  }

  // The largest value that can be drawn (for limit checks); T{} when empty.
  T max() const {
    T m{};
    for (size_t i = 0; i < count_; ++i) {
      m = values_[i] > m ? values_[i] : m;
    }
    return m;
  }

  void clear() { count_ = 0; }
  // For parseChoices(): appends an entry; false when full.
  bool add(T value, uint32_t ppm) {
    if (count_ == kMax) {
      return false;
    }
    values_[count_] = value;
    cumulative_[count_] = (count_ == 0 ? 0 : cumulative_[count_ - 1]) + ppm;
    ++count_;
    return true;
  }

 private:
  std::array<T, kMax> values_{};
  std::array<uint32_t, kMax> cumulative_{};
  size_t count_ = 0;
};

// Parses a percentage such as "10", "2.5" or "0.0001" (at most four decimals, at most 100)
// into ppm. False when it is not one.
bool parsePercent(std::string_view text, uint32_t* ppm);

// Parses one value of a knob; returns false with `error` set.
bool parseStatusValue(std::string_view text, int* out, std::string* error);
bool parseDelayValue(std::string_view text, uint64_t* ms, std::string* error);
bool parseSizeValue(std::string_view text, uint64_t* bytes, std::string* error);
bool parseBoolValue(std::string_view text, bool* out, std::string* error);

// Parses "VALUE[:PERCENT],..." with `parse_value` for each value. Errors (with `error` set, naming
// `knob`): an empty entry, a bad value or percentage, percentages adding up to more than 100,
// more than one entry without a percentage, more than Choices::kMax entries.
template <typename T, typename ParseValue>
bool parseChoices(std::string_view knob, std::string_view text, ParseValue parse_value,
                  Choices<T>* out, std::string* error);

// Limits the configuration sets on what a query may ask for.
struct EchoLimits {
  uint64_t max_delay_ms = 10'000;
  uint64_t max_size = 1 << 20;
};

// The knobs of one /echo request, as its query string gives them.
struct EchoKnobs {
  static constexpr size_t kMaxHeaders = 16;

  Choices<int> status;         // status=503:10,429:5
  Choices<uint64_t> delay_ms;  // delay=100ms:20,10ms:5
  Choices<uint64_t> size;      // size=1024 (response body bytes)
  Choices<bool> close;         // close=true, close=true:10
  // header=Name:Value or header=Name:Value:PERCENT, repeatable; views into the `scratch` given
  // to parseEchoKnobs(). Each header is added with its own probability (ppm; kPpm = always).
  std::array<std::string_view, kMaxHeaders> header_names{};
  std::array<std::string_view, kMaxHeaders> header_values{};
  std::array<uint32_t, kMaxHeaders> header_ppm{};
  size_t header_count = 0;

  void clear() {
    status.clear();
    delay_ms.clear();
    size.clear();
    close.clear();
    header_count = 0;
  }
};

// Parses an /echo query string (what follows '?', without the fragment). Names and values are
// percent-decoded ('+' is a space) into `scratch`, which the header views point into and which
// must outlive them. Parameters other than the knobs are ignored; a knob other than header= given
// twice is an error. Returns false with `error` set to a message for a 400 response when a value
// is malformed or over a limit.
bool parseEchoKnobs(std::string_view query, const EchoLimits& limits, EchoKnobs* out,
                    std::string* scratch, std::string* error);

// Percent-decodes `in` onto the end of `out` ('+' becomes a space). False on a malformed escape.
bool percentDecode(std::string_view in, std::string* out);

// --- template implementation ---

template <typename T, typename ParseValue>
bool parseChoices(std::string_view knob, std::string_view text, ParseValue parse_value,
                  Choices<T>* out, std::string* error) {
  out->clear();
  uint32_t total = 0;
  bool have_rest = false;
  T rest_value{};
  while (true) {
    size_t comma = text.find(',');
    std::string_view entry = text.substr(0, comma);
    if (entry.empty()) {
      *error = std::string(knob) + ": empty entry in the list";
      return false;
    }
    size_t colon = entry.rfind(':');
    T value{};
    if (!parse_value(entry.substr(0, colon), &value, error)) {
      *error = std::string(knob) + ": " + *error;
      return false;
    }
    if (colon == std::string_view::npos) {
      if (have_rest) {
        *error = std::string(knob) + ": only one entry may leave out its percentage";
        return false;
      }
      have_rest = true;
      rest_value = value;
    } else {
      uint32_t ppm = 0;
      if (!parsePercent(entry.substr(colon + 1), &ppm)) {
        *error = std::string(knob) + ": invalid percentage \"" +
                 std::string(entry.substr(colon + 1)) + "\" (expected 0 to 100, e.g. 2.5)";
        return false;
      }
      total += ppm;
      if (total > kPpm) {
        *error = std::string(knob) + ": the percentages add up to more than 100";
        return false;
      }
      if (!out->add(value, ppm)) {
        *error = std::string(knob) + ": too many entries";
        return false;
      }
    }
    if (comma == std::string_view::npos) {
      break;
    }
    text.remove_prefix(comma + 1);
  }
  if (have_rest && !out->add(rest_value, kPpm - total)) {
    *error = std::string(knob) + ": too many entries";
    return false;
  }
  return true;
}

}  // namespace portd::handlers::http
