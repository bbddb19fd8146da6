#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace portd::handlers::smtp {

// Creates DIR and its tmp/, new/ and cur/ (mode 0700) where missing. Returns an empty string,
// or why it could not (for a configuration error).
std::string prepareMaildir(const std::string& dir);

// A message being written to DIR/tmp/NAME.
struct MailFile {
  int fd = -1;
  bool failed = false;  // a write failed: the message will be answered 451
  std::array<char, 320> name{};

  bool isOpen() const { return fd >= 0; }
  // Writes all of `bytes` (retrying short writes); on error marks the file failed.
  void write(std::string_view bytes);
};

// Delivery into a Maildir (https://cr.yp.to/proto/maildir.html), one per instance (worker). A
// message is written to tmp/ under a unique name, synced, then renamed into new/ and the
// directory synced, so that a message is in new/ whole or not at all, and once the 250 reply
// is sent it survives a crash. Names are TIME.MUSECPPID_INSTANCE_COUNTER.HOST: unique across
// workers, listeners sharing a directory, and restarts. The file system calls block the
// worker: fine for a test sink, and the reason drop mode exists for load tests.
class MaildirWriter {
 public:
  // `instance`: a number no other instance of this process has.
  MaildirWriter(const std::string& dir, uint32_t instance);
  ~MaildirWriter();
  MaildirWriter(const MaildirWriter&) = delete;
  MaildirWriter& operator=(const MaildirWriter&) = delete;

  // Whether the directories could be opened.
  bool ready() const { return tmp_fd_ >= 0 && new_fd_ >= 0; }

  bool open(MailFile* file);
  // Syncs, closes and moves the file into new/. False (and the file removed) on any failure.
  bool commit(MailFile* file);
  // Closes and removes the file.
  void discard(MailFile* file);

 private:
  int tmp_fd_ = -1;
  int new_fd_ = -1;
  uint32_t instance_;
  uint64_t counter_ = 0;
  std::string host_;  // gethostname(), with '/' and ':' escaped as Maildir asks
};

}  // namespace portd::handlers::smtp
