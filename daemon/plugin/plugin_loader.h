#pragma once

#include <sys/types.h>

#include <compare>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.h"
#include "handlers/registry.h"

namespace portd::plugin {

// What tells one build of a plugin file from another without reading it: a rebuild written to
// a new file and renamed over the old one changes the inode, one written over the old file in
// place changes the size or the modification time.
struct FileIdentity {
  uint64_t device = 0;
  uint64_t inode = 0;
  int64_t size = 0;
  int64_t mtime_sec = 0;
  int64_t mtime_nsec = 0;

  auto operator<=>(const FileIdentity&) const = default;
  // "inode 1234 on device 0:45, 15872 bytes, modified 2024-05-01 10:00:00.123456789 +0200"
  std::string describe() const;
};

// A loaded plugin, as `portd handlers` shows it.
struct PluginInfo {
  std::string path;
  std::string name;
  std::string version;
  std::vector<std::string> handlers;
  FileIdentity file;  // the build that was loaded
};

class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Loads the shared object at `path` and registers its handlers in `registry`.
//
// Each build of a file is loaded once, as its own image: the file's bytes are copied into an
// anonymous memory file (memfd) and that copy is dlopen()ed. dlopen() of the same path again
// would return the image already loaded, so a plugin rebuilt in place would never be picked up;
// and a build tool that overwrites the file in place would change the code under the running
// daemon. A later load of the same build (same FileIdentity) reuses its image without copying.
// Images are never unloaded: handler code may still be running on a worker when a
// configuration is dropped, so an old build stays mapped until the process exits.
//
// Every failure (no such file, not a shared object, no entry symbol, another ABI version, a
// malformed handler table, a name already taken, a file that changed while it was read) throws
// PluginError with a message that names the path; `registry` is then unchanged.
PluginInfo loadPlugin(const std::string& path, handlers::Registry& registry);

// Loads every [[plugin]] of `config` into `registry`, in order, and records in each
// config::PluginConfig which build was loaded. A failure is a config::ConfigError at the
// plugin's path in the file.
std::vector<PluginInfo> loadPlugins(config::Config& config, handlers::Registry& registry);

}  // namespace portd::plugin
