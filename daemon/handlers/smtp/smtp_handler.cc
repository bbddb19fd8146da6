#include "handlers/smtp/smtp_handler.h"

#include <array>
#include <atomic>
#include <memory>
#include <portd/handler.hpp>
#include <random>
#include <string>

#include "handlers/smtp/faults.h"
#include "handlers/smtp/maildir.h"
#include "handlers/smtp/session.h"

namespace portd::handlers::smtp {

namespace {

// Distinguishes instances in Maildir file names (two listeners may share a directory).
std::atomic<uint32_t> g_instances{0};

// Body bytes gathered per instance before a write() to the message file.
constexpr size_t kBodyBuffer = 64 * 1024;

bool validHostname(std::string_view h) {
  if (h.empty() || h.size() > 253) {
    return false;
  }
  for (char c : h) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return false;
    }
  }
  return true;
}

struct Config {
  explicit Config(const sdk::Options& o) {
    session.hostname = std::string(o.getString("hostname"));
    if (!validHostname(session.hostname)) {
      throw sdk::ConfigError("hostname: must be 1 to 253 printable characters without spaces");
    }
    const uint64_t max_line = o.getSize("max_line");
    if (max_line < 64 || max_line > 65536) {
      throw sdk::ConfigError("max_line: must be between 64 and 64KiB (RFC 5321 asks for 512)");
    }
    session.max_line = static_cast<size_t>(max_line);
    session.max_message_size = o.getSize("max_message_size");
    if (session.max_message_size == 0) {
      throw sdk::ConfigError("max_message_size: must be at least 1");
    }
    const int64_t recipients = o.getInt("max_recipients");
    if (recipients < 1 || recipients > 100000) {
      throw sdk::ConfigError("max_recipients: must be between 1 and 100000");
    }
    session.max_recipients = static_cast<uint32_t>(recipients);
    session.chunking = o.getBool("chunking");
    session.prepare();

    maildir = std::string(o.getString("maildir"));
    if (!maildir.empty()) {
      std::string error = prepareMaildir(maildir);
      if (!error.empty()) {
        throw sdk::ConfigError("maildir: " + error);
      }
    }
    for (const char* name : FaultPlan::optionNames()) {
      std::string_view text = o.getString(name);
      std::string error;
      if (!text.empty() && !faults.set(name, text, &error)) {
        throw sdk::ConfigError(error);
      }
    }
    const int64_t s = o.getInt("seed");
    seed = s != 0 ? static_cast<uint64_t>(s) : (uint64_t{std::random_device{}()} << 32) ^ 1;
  }

  SessionConfig session;
  std::string maildir;  // empty: drop mode
  FaultPlan faults;
  uint64_t seed = 0;
  // Instances made from this config: instance k draws faults from seed + k.
  mutable std::atomic<uint64_t> instances{0};
};

class Smtp;

// One connection: its session, its message file and a reply held back by a delay fault.
struct Client final : SessionHooks {
  Client(Smtp& o, sdk::Conn c);
  Fault fault(Stage stage) override;
  bool beginMessage() override;
  void messageBody(std::string_view bytes) override;
  bool endMessage(bool deliver) override;
  void count(Event event, uint64_t n) override;
  void fireDelay();

  Smtp& owner;
  sdk::Conn conn;
  Session session;
  MailFile file;
  std::string delayed;  // the delayed reply (allocated only when a delay fault fires)
  bool close_after_delay = false;
  portd_timer_t timer = 0;
};

const char* const kEventNames[] = {
    "sessions",        "commands",    "messages",      "message_bytes",     "recipients",
    "replies_4xx",     "replies_5xx", "line_too_long", "message_too_large", "too_many_recipients",
    "delivery_failed", "fault_reply", "fault_delay",   "fault_disconnect",  "fault_421"};
static_assert(std::size(kEventNames) == static_cast<size_t>(Event::kCount));

class Smtp {
 public:
  Smtp(sdk::Worker w, const Config& c)
      : worker_(w), config_(c), rng_(c.seed + c.instances.fetch_add(1, std::memory_order_relaxed)) {
    for (size_t i = 0; i < counters_.size(); ++i) {
      counters_[i] = w.counter(kEventNames[i]);
    }
    if (!c.maildir.empty()) {
      maildir_ = std::make_unique<MaildirWriter>(c.maildir, g_instances.fetch_add(1) + 1);
      body_.reserve(kBodyBuffer);
    }
    out_.reserve(Session::kOutputBound + 1024);
  }

  void onOpen(sdk::Conn c) {
    auto* client = new Client(*this, c);
    c.setData(client);
    out_.clear();
    act(*client, client->session.open(out_), {});
  }

  void onData(sdk::Conn c, std::string_view data) {
    Client* client = c.data<Client>();
    if (client == nullptr) {
      return;
    }
    while (true) {
      out_.clear();
      const FeedResult r = client->session.feed(data, out_);
      flushBody(*client);
      data.remove_prefix(r.consumed);
      if (r.action != FeedResult::Action::kFull) {
        act(*client, r, data);
        return;
      }
      // Output is bounded within one read: what is made so far leaves, and the rest of the
      // read waits while the peer is not reading its replies.
      if (!send(c, out_)) {
        return;
      }
      if (c.queuedBytes() >= c.writeLimit()) {
        keep(c, data);
        return;
      }
    }
  }

  const SessionConfig& sessionConfig() const { return config_.session; }

  // Kept input comes again after this: nothing else to do.
  void onWritable(sdk::Conn) {}

  void onDrain(sdk::Conn c) {
    Client* client = c.data<Client>();
    if (client != nullptr && client->timer == 0 && client->session.idle()) {
      c.write(config_.session.closing);
      c.close();
    }
  }

  void onClose(sdk::Conn c) {
    Client* client = c.data<Client>();
    if (client == nullptr) {
      return;
    }
    if (client->timer != 0) {
      worker_.stopTimer(client->timer);
    }
    client->session.close();
    c.setData(nullptr);
    delete client;
  }

  Fault fault(Stage stage) {
    return config_.faults.any() ? config_.faults.decide(stage, rng_) : Fault{};
  }
  void count(Event e, uint64_t n) { worker_.add(counters_[static_cast<size_t>(e)], n); }

  bool beginMessage(Client& client) { return !maildir_ || maildir_->open(&client.file); }
  void messageBody(Client& client, std::string_view bytes) {
    if (!maildir_) {
      return;  // drop mode: the session counts the bytes
    }
    if (body_.size() + bytes.size() > kBodyBuffer) {
      flushBody(client);
    }
    if (bytes.size() >= kBodyBuffer) {
      client.file.write(bytes);
    } else {
      body_.append(bytes);
    }
  }
  bool endMessage(Client& client, bool deliver) {
    if (!maildir_) {
      return true;
    }
    if (!deliver) {
      body_.clear();  // only this client's bytes can be in it: it is emptied after each read
      maildir_->discard(&client.file);
      return true;
    }
    flushBody(client);
    return maildir_->commit(&client.file);
  }

  void fireDelay(Client& client) {
    client.timer = 0;
    sdk::Conn c = client.conn;
    if (!send(c, client.delayed)) {
      return;
    }
    client.delayed.clear();
    if (client.close_after_delay) {
      c.close();
    } else {
      c.resumeReading();
    }
  }

 private:
  void flushBody(Client& client) {
    if (!body_.empty()) {
      if (client.file.isOpen()) {
        client.file.write(body_);
      }
      body_.clear();
    }
  }

  // Writes; false when the write closed the connection (the client is gone then).
  static bool send(sdk::Conn c, std::string_view bytes) {
    if (!bytes.empty()) {
      c.write(bytes);
    }
    return c.isOpen();
  }

  static void keep(sdk::Conn c, std::string_view rest) {
    if (!rest.empty() && c.keep(rest.size()) != PORTD_OK) {
      c.close();  // more than write_buffer_limit waiting: this peer does not read its replies
    }
  }

  // Carries out what the session asked for after a read (or the greeting).
  void act(Client& client, const FeedResult& r, std::string_view rest) {
    sdk::Conn c = client.conn;
    switch (r.action) {
      case FeedResult::Action::kMore:
      case FeedResult::Action::kFull:
        if (send(c, out_)) {
          keep(c, rest);
        }
        return;
      case FeedResult::Action::kClose:
      case FeedResult::Action::kDisconnect:
        if (send(c, out_)) {
          c.close();
        }
        return;
      case FeedResult::Action::kDelay: {
        const std::string_view now = std::string_view(out_).substr(0, r.delayed_from);
        if (!send(c, now)) {
          return;
        }
        client.delayed.assign(out_, r.delayed_from);
        client.close_after_delay = r.close_after;
        // The commands behind the delayed one wait, unread, so the replies stay in order.
        c.pauseReading();
        keep(c, rest);
        if (!c.isOpen()) {
          return;
        }
        client.timer = worker_.startTimer<&Client::fireDelay>(r.delay_ms, &client);
        if (client.timer == 0) {
          fireDelay(client);  // no timer to be had: answer now rather than never
        }
        return;
      }
    }
  }

  sdk::Worker worker_;
  const Config& config_;
  SplitMix64 rng_;
  std::array<int, static_cast<size_t>(Event::kCount)> counters_{};
  std::unique_ptr<MaildirWriter> maildir_;
  std::string out_;   // the replies of one read, written at once
  std::string body_;  // message bytes of one read, written at once (Maildir mode)
};

Client::Client(Smtp& o, sdk::Conn c) : owner(o), conn(c), session(o.sessionConfig(), *this) {}
Fault Client::fault(Stage stage) { return owner.fault(stage); }
bool Client::beginMessage() { return owner.beginMessage(*this); }
void Client::messageBody(std::string_view bytes) { owner.messageBody(*this, bytes); }
bool Client::endMessage(bool deliver) { return owner.endMessage(*this, deliver); }
void Client::count(Event event, uint64_t n) { owner.count(event, n); }
void Client::fireDelay() { owner.fireDelay(*this); }

const portd_option_def kOptions[] = {
    {"hostname", PORTD_OPT_STRING, "\"portd.localhost\"",
     "the name in the greeting and the EHLO reply"},
    {"maildir", PORTD_OPT_PATH, "\"\"",
     "a Maildir to write each accepted message to (tmp/, then new/); empty: drop and count"},
    {"chunking", PORTD_OPT_BOOL, "false", "advertise CHUNKING and accept BDAT (RFC 3030)"},
    {"max_line", PORTD_OPT_SIZE, "512", "longest command line, CRLF included: 500 beyond"},
    {"max_message_size", PORTD_OPT_SIZE, "\"10MiB\"",
     "largest message, advertised as SIZE: 552 beyond"},
    {"max_recipients", PORTD_OPT_INT, "100", "recipients per message: 452 beyond"},
    {"seed", PORTD_OPT_INT, "0", "seed of the fault generator; 0: a random one"},
    {"fault_greeting", PORTD_OPT_STRING, "\"\"", "reply codes instead of 220, e.g. \"554:10\""},
    {"fault_ehlo", PORTD_OPT_STRING, "\"\"", "reply codes instead of EHLO/HELO's 250"},
    {"fault_mail", PORTD_OPT_STRING, "\"\"", "reply codes instead of MAIL's 250"},
    {"fault_rcpt", PORTD_OPT_STRING, "\"\"",
     "reply codes instead of RCPT's 250, e.g. \"451:every=2\""},
    {"fault_data", PORTD_OPT_STRING, "\"\"", "reply codes instead of DATA's 354"},
    {"fault_data_end", PORTD_OPT_STRING, "\"\"",
     "reply codes instead of the 250 after a message (the message is dropped)"},
    {"fault_quit", PORTD_OPT_STRING, "\"\"", "reply codes instead of QUIT's 221"},
    {"fault_greeting_delay", PORTD_OPT_STRING, "\"\"", "delays of the greeting, e.g. \"1s:50\""},
    {"fault_ehlo_delay", PORTD_OPT_STRING, "\"\"", "delays of the EHLO/HELO reply"},
    {"fault_mail_delay", PORTD_OPT_STRING, "\"\"", "delays of the MAIL reply, e.g. \"200ms:0.5\""},
    {"fault_rcpt_delay", PORTD_OPT_STRING, "\"\"", "delays of the RCPT reply"},
    {"fault_data_delay", PORTD_OPT_STRING, "\"\"", "delays of the DATA reply"},
    {"fault_data_end_delay", PORTD_OPT_STRING, "\"\"", "delays of the reply after a message"},
    {"fault_quit_delay", PORTD_OPT_STRING, "\"\"", "delays of the QUIT reply"},
    {"fault_disconnect", PORTD_OPT_STRING, "\"\"",
     "stages at which to close without a reply, e.g. \"data_end:1,rcpt:every=10\""},
    {"fault_421", PORTD_OPT_STRING, "\"\"",
     "stages at which to answer 421 and close, e.g. \"mail:every=100\""},
};

const portd_handler_def kSmtp = sdk::makeHandler<Config, Smtp>(
    "smtp", "a mail sink for testing senders: RFC 5321 with pipelining, Maildir and fault knobs",
    PORTD_TCP, kOptions, std::size(kOptions));

}  // namespace

const portd_handler_def& definition() { return kSmtp; }

}  // namespace portd::handlers::smtp
