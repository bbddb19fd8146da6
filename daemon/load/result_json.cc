#include "load/result_json.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "load/hdr_codec.h"

namespace portd::load {

using nlohmann::json;

namespace {

constexpr size_t kMaxTimeline = 7 * 24 * 3600;  // a week of seconds

json histogramJson(const Histogram& h) {
  json j;
  j["count"] = h.totalCount();
  if (h.totalCount() > 0) {
    j["min_us"] = h.min();
    j["mean_us"] = h.mean();
    j["max_us"] = h.max();
    j["p50_us"] = h.valueAtPercentile(50);
    j["p90_us"] = h.valueAtPercentile(90);
    j["p99_us"] = h.valueAtPercentile(99);
    j["p99.9_us"] = h.valueAtPercentile(99.9);
    j["p99.99_us"] = h.valueAtPercentile(99.99);
  }
  j["hdr"] = encodeCompressedBase64(h);
  return j;
}

bool readHistogram(const json& j, const char* name, Histogram* out, std::string* error) {
  if (!j.contains(name) || !j[name].is_object() || !j[name].contains("hdr") ||
      !j[name]["hdr"].is_string()) {
    *error = std::string("histogram \"") + name + "\" is missing";
    return false;
  }
  std::string why;
  auto h = decodeBase64Histogram(j[name]["hdr"].get<std::string>(), &why);
  if (!h) {
    *error = std::string("histogram \"") + name + "\": " + why;
    return false;
  }
  // Histograms of another layout are re-recorded into portd's, as HdrHistogram's add() does.
  Histogram mine;
  mine.add(*h);
  *out = std::move(mine);
  return true;
}

uint64_t u64(const json& j, const char* name) {
  if (!j.contains(name)) {
    return 0;
  }
  const json& v = j[name];
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
    throw std::runtime_error(std::string("\"") + name + "\" is not a count");
  }
  return v.get<uint64_t>();
}

double num(const json& j, const char* name) {
  if (!j.contains(name)) {
    return 0;
  }
  if (!j[name].is_number()) {
    throw std::runtime_error(std::string("\"") + name + "\" is not a number");
  }
  const double d = j[name].get<double>();
  if (!std::isfinite(d)) {
    throw std::runtime_error(std::string("\"") + name + "\" is not finite");
  }
  return d;
}

std::string str(const json& j, const char* name) {
  if (!j.contains(name)) {
    return "";
  }
  if (!j[name].is_string()) {
    throw std::runtime_error(std::string("\"") + name + "\" is not a string");
  }
  return j[name].get<std::string>();
}

constexpr const char* kStatusNames[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
constexpr const char* kSmtpClassNames[] = {"2xx", "4xx", "5xx"};

}  // namespace

std::string toJson(const Result& r) {
  json j;
  j["format"] = "portd-load-result-1";
  j["url"] = r.url;
  j["model"] = r.model;
  if (r.model == "open") {
    j["stages"] = r.stages;
    j["asked_rate"] = r.asked_rate;
    j["schedule_seconds"] = r.schedule_seconds;
  }
  j["start_time"] = r.start_time;
  j["seconds"] = r.seconds;
  j["threads"] = r.threads;
  j["connections"] = r.connections;
  j["pipeline"] = r.pipeline;
  j["sources"] = r.sources;
  j["interrupted"] = r.interrupted;
  j["achieved_rate"] = r.achievedRate();
  const Counters& c = r.counters;
  json counters = {{"sent", c.sent},
                   {"completed", c.completed},
                   {"bytes_out", c.bytes_out},
                   {"bytes_in", c.bytes_in},
                   {"connections", c.connections}};
  json errors = json::object();
  for (size_t i = 0; i < c.errors.size(); ++i) {
    errors[std::string(errorName(static_cast<ErrorKind>(i)))] = c.errors[i];
  }
  counters["errors"] = errors;
  json status = json::object();
  for (size_t i = 0; i < c.status.size(); ++i) {
    status[kStatusNames[i]] = c.status[i];
  }
  counters["status"] = status;
  json rcode = json::object();
  for (size_t i = 0; i < c.rcode.size(); ++i) {
    rcode[std::string(rcodeName(i))] = c.rcode[i];
  }
  counters["rcode"] = rcode;  // dns: answers by RCODE
  counters["truncated"] = c.truncated;
  counters["resp_errors"] = c.resp_errors;
  json smtp = json::object();
  for (size_t i = 0; i < c.smtp_replies.size(); ++i) {
    smtp[kSmtpClassNames[i]] = c.smtp_replies[i];
  }
  counters["smtp_replies"] = smtp;
  counters["duplicates"] = c.duplicates;
  counters["reordered"] = c.reordered;
  counters["late"] = c.late;
  j["counters"] = counters;
  j["jitter_us"] = r.jitter_us;
  j["latency"] = {{"corrected", histogramJson(r.histograms.corrected)},
                  {"uncorrected", histogramJson(r.histograms.uncorrected)},
                  {"connect", histogramJson(r.histograms.connect)},
                  {"first_byte", histogramJson(r.histograms.first_byte)},
                  {"lag", histogramJson(r.histograms.lag)}};
  json timeline = json::array();
  for (const Second& s : r.timeline) {
    timeline.push_back({s.completed, s.errors, s.p99_us});
  }
  j["timeline"] = timeline;  // per second: answered, errors, corrected p99 (us)
  return j.dump(2) + "\n";
}

std::optional<Result> fromJson(std::string_view text, std::string* error) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    *error = "not JSON";
    return std::nullopt;
  }
  try {
    if (str(j, "format") != "portd-load-result-1") {
      *error = "not a portd load result (no \"format\": \"portd-load-result-1\")";
      return std::nullopt;
    }
    Result r;
    r.url = str(j, "url");
    r.model = str(j, "model");
    if (r.model != "open" && r.model != "closed" && r.model != "receive") {
      *error = "\"model\" is not \"open\", \"closed\" or \"receive\"";
      return std::nullopt;
    }
    r.stages = str(j, "stages");
    r.asked_rate = num(j, "asked_rate");
    r.schedule_seconds = num(j, "schedule_seconds");
    r.start_time = num(j, "start_time");
    r.seconds = num(j, "seconds");
    r.threads = static_cast<int>(u64(j, "threads"));
    r.connections = static_cast<int>(u64(j, "connections"));
    r.pipeline = static_cast<int>(u64(j, "pipeline"));
    r.sources = static_cast<int>(std::max<uint64_t>(1, u64(j, "sources")));
    r.interrupted =
        j.contains("interrupted") && j["interrupted"].is_boolean() && j["interrupted"].get<bool>();
    r.jitter_us = num(j, "jitter_us");
    if (!j.contains("counters") || !j["counters"].is_object()) {
      *error = "\"counters\" is missing";
      return std::nullopt;
    }
    const json& c = j["counters"];
    r.counters.sent = u64(c, "sent");
    r.counters.completed = u64(c, "completed");
    r.counters.bytes_out = u64(c, "bytes_out");
    r.counters.bytes_in = u64(c, "bytes_in");
    r.counters.connections = u64(c, "connections");
    r.counters.duplicates = u64(c, "duplicates");
    r.counters.reordered = u64(c, "reordered");
    r.counters.late = u64(c, "late");
    r.counters.truncated = u64(c, "truncated");
    if (c.contains("errors") && c["errors"].is_object()) {
      for (size_t i = 0; i < r.counters.errors.size(); ++i) {
        r.counters.errors[i] =
            u64(c["errors"], std::string(errorName(static_cast<ErrorKind>(i))).c_str());
      }
    }
    if (c.contains("status") && c["status"].is_object()) {
      for (size_t i = 0; i < r.counters.status.size(); ++i) {
        r.counters.status[i] = u64(c["status"], kStatusNames[i]);
      }
    }
    // Results written before dns:// have no "rcode": their counts stay 0.
    if (c.contains("rcode") && c["rcode"].is_object()) {
      for (size_t i = 0; i < r.counters.rcode.size(); ++i) {
        r.counters.rcode[i] = u64(c["rcode"], std::string(rcodeName(i)).c_str());
      }
    }
    // Absent from results written before resp:// and smtp://: zero, as they were.
    r.counters.resp_errors = u64(c, "resp_errors");
    if (c.contains("smtp_replies") && c["smtp_replies"].is_object()) {
      for (size_t i = 0; i < r.counters.smtp_replies.size(); ++i) {
        r.counters.smtp_replies[i] = u64(c["smtp_replies"], kSmtpClassNames[i]);
      }
    }
    if (!j.contains("latency") || !j["latency"].is_object()) {
      *error = "\"latency\" is missing";
      return std::nullopt;
    }
    const json& l = j["latency"];
    if (!readHistogram(l, "corrected", &r.histograms.corrected, error) ||
        !readHistogram(l, "uncorrected", &r.histograms.uncorrected, error) ||
        !readHistogram(l, "connect", &r.histograms.connect, error) ||
        !readHistogram(l, "first_byte", &r.histograms.first_byte, error) ||
        !readHistogram(l, "lag", &r.histograms.lag, error)) {
      return std::nullopt;
    }
    if (j.contains("timeline")) {
      if (!j["timeline"].is_array() || j["timeline"].size() > kMaxTimeline) {
        *error = "\"timeline\" is not an array of at most a week of seconds";
        return std::nullopt;
      }
      for (const json& s : j["timeline"]) {
        if (!s.is_array() || s.size() != 3 || !s[0].is_number_unsigned() ||
            !s[1].is_number_unsigned() || !s[2].is_number_integer()) {
          *error = "\"timeline\" has an entry that is not [answered, errors, p99_us]";
          return std::nullopt;
        }
        r.timeline.push_back(
            Second{s[0].get<uint64_t>(), s[1].get<uint64_t>(), s[2].get<int64_t>()});
      }
    }
    return r;
  } catch (const std::exception& e) {
    *error = e.what();
    return std::nullopt;
  }
}

void mergeResult(Result& into, const Result& o) {
  if (into.url != o.url) {
    into.url = into.url + " + " + o.url;
  }
  // The timelines line up by wall-clock second from the earlier start.
  const double start = std::min(into.start_time, o.start_time);
  auto shifted = [&](const Result& r) {
    const auto offset = static_cast<size_t>(std::max(0.0, std::round(r.start_time - start)));
    std::vector<Second> t(offset);
    t.insert(t.end(), r.timeline.begin(), r.timeline.end());
    return t;
  };
  std::vector<Second> a = shifted(into);
  std::vector<Second> b = shifted(o);
  if (b.size() > a.size()) {
    a.resize(b.size());
  }
  for (size_t i = 0; i < b.size(); ++i) {
    a[i].completed += b[i].completed;
    a[i].errors += b[i].errors;
    a[i].p99_us = std::max(a[i].p99_us, b[i].p99_us);  // an upper bound: exact only per run
  }
  into.timeline = std::move(a);
  const double end = std::max(into.start_time + into.seconds, o.start_time + o.seconds);
  into.start_time = start;
  into.seconds = end - start;
  into.asked_rate += o.asked_rate;
  into.schedule_seconds = std::max(into.schedule_seconds, o.schedule_seconds);
  into.threads += o.threads;
  into.connections += o.connections;
  into.sources += o.sources;
  into.interrupted = into.interrupted || o.interrupted;
  into.jitter_us = std::max(into.jitter_us, o.jitter_us);
  into.counters.add(o.counters);
  into.histograms.add(o.histograms);
}

}  // namespace portd::load
