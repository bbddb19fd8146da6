#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace portd::config {

// Reads a file that a configuration names: the configuration file itself, or the value of a
// kPath option such as http's `route.body_file`. Whatever the path names, the read ends quickly
// and without an exception other than the ones documented here:
//  - only a regular file is opened, so a directory, a device (/dev/zero never ends) or a socket
//    is refused before anything reads it;
//  - it is opened with O_NONBLOCK, so a FIFO that appears between the check and the open
//    cannot block the caller (the main thread, also during a reload) waiting for a writer;
//  - at most `max_bytes` are read, also from files whose size stat() does not tell (/proc);
//  - read errors, such as /proc/self/mem's at offset 0, are reported, not thrown by a stream.
//
// Returns the contents, or nothing with *error set to what is wrong ("not a regular file (a
// directory)", "larger than 64MiB", strerror()), without the path.
std::optional<std::string> readRegularFile(const std::string& path, uint64_t max_bytes,
                                           std::string* error);

// readRegularFile() for an option: a failure is an OptionError at `key`, which the loader
// turns into a configuration error pointing at the option in the file
// (`cannot read "/tmp": not a regular file (a directory)`).
std::string readOptionFile(const std::string& path, uint64_t max_bytes, const std::string& key);

// "64MiB", "1KiB", "100 bytes": a limit as the messages above show it.
std::string describeByteLimit(uint64_t bytes);

}  // namespace portd::config
