#include "load/results.h"

namespace portd::load {

std::string_view errorName(ErrorKind k) {
  switch (k) {
    case ErrorKind::kConnectRefused:
      return "connect_refused";
    case ErrorKind::kConnectTimeout:
      return "connect_timeout";
    case ErrorKind::kConnectOther:
      return "connect_failed";
    case ErrorKind::kClosed:
      return "closed";
    case ErrorKind::kTimeout:
      return "timeout";
    case ErrorKind::kMalformed:
      return "malformed";
    case ErrorKind::kMismatch:
      return "mismatch";
    case ErrorKind::kUnsent:
      return "unsent";
    case ErrorKind::kLost:
      return "lost";
    case ErrorKind::kFraming:
      return "framing";
    case ErrorKind::kCount:
      break;
  }
  return "?";
}

std::string_view rcodeName(size_t slot) {
  static constexpr std::string_view kNames[kRcodeSlots] = {
      "NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
      "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE", "DSOTYPENI",
      "RCODE12",  "RCODE13", "RCODE14",  "RCODE15",  "other"};
  return slot < kRcodeSlots ? kNames[slot] : "?";
}

void Counters::add(const Counters& o) {
  sent += o.sent;
  completed += o.completed;
  bytes_out += o.bytes_out;
  bytes_in += o.bytes_in;
  connections += o.connections;
  for (size_t i = 0; i < errors.size(); ++i) {
    errors[i] += o.errors[i];
  }
  for (size_t i = 0; i < status.size(); ++i) {
    status[i] += o.status[i];
  }
  for (size_t i = 0; i < rcode.size(); ++i) {
    rcode[i] += o.rcode[i];
  }
  truncated += o.truncated;
  resp_errors += o.resp_errors;
  for (size_t i = 0; i < smtp_replies.size(); ++i) {
    smtp_replies[i] += o.smtp_replies[i];
  }
  duplicates += o.duplicates;
  reordered += o.reordered;
  late += o.late;
}

uint64_t Counters::errorTotal() const {
  uint64_t n = 0;
  for (uint64_t e : errors) {
    n += e;
  }
  return n;
}

void Histograms::add(const Histograms& o) {
  corrected.add(o.corrected);
  uncorrected.add(o.uncorrected);
  connect.add(o.connect);
  first_byte.add(o.first_byte);
  lag.add(o.lag);
}

void Histograms::reset() {
  corrected.reset();
  uncorrected.reset();
  connect.reset();
  first_byte.reset();
  lag.reset();
}

double Result::achievedRate() const {
  if (model == "open" && asked_rate > 0 && seconds > 0) {
    // Sent per second of the schedule: a generator that fell behind shows it here.
    return static_cast<double>(counters.sent) / std::min(seconds, schedule_seconds);
  }
  return seconds > 0 ? static_cast<double>(counters.completed) / seconds : 0;
}

}  // namespace portd::load
