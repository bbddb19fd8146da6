#include "plugin/plugin_loader.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <portd/handler.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <utility>

#include "config/error.h"
#include "handlers/abi/abi_handler.h"

// Linux 6.3 and later may refuse to map a memfd as code unless it was made executable
// explicitly (sysctl vm.memfd_noexec); older headers do not name the flag.
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

namespace portd::plugin {

std::string FileIdentity::describe() const {
  time_t seconds = static_cast<time_t>(mtime_sec);
  std::tm tm{};
  ::localtime_r(&seconds, &tm);
  char date[32];
  char zone[8];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
  std::strftime(zone, sizeof zone, "%z", &tm);
  dev_t dev = static_cast<dev_t>(device);
  return fmt::format("inode {} on device {}:{}, {} bytes, modified {}.{:09} {}", inode, major(dev),
                     minor(dev), size, date, mtime_nsec, zone);
}

namespace {

// The registry entry made for each handler table, kept for the life of the process (as the
// plugins are). Loading a plugin again, as every reload does, yields the entries of the first
// load: dlopen() hands back the library already loaded, whose tables are where they were, and
// a reload keeps the handler instances of a listener only when the same entry serves it. A new
// build of a plugin is another library with tables of its own, and so gets new entries.
std::shared_ptr<handlers::HandlerFactory> factoryFor(const portd_handler_def& def,
                                                     const std::shared_ptr<const void>& library) {
  static std::mutex mutex;
  static std::map<const portd_handler_def*, std::shared_ptr<handlers::HandlerFactory>> made;
  std::lock_guard lock(mutex);
  auto& entry = made[&def];
  if (!entry) {
    entry = handlers::abi::makeFactory(def, library);
  }
  return entry;
}

FileIdentity identityOf(const struct stat& st) {
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
          static_cast<int64_t>(st.st_size), static_cast<int64_t>(st.st_mtim.tv_sec),
          static_cast<int64_t>(st.st_mtim.tv_nsec)};
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// One build of a plugin file, loaded. Nothing in it is ever released (see plugin_loader.h).
struct Image {
  void* handle = nullptr;
  const portd_plugin* plugin = nullptr;
  // The private copy the image was loaded from, or -1 when it was loaded from the file itself.
  // It stays open: the dynamic linker knows the image by the name "/proc/self/fd/N", and would
  // take a later copy that got the same descriptor number for this one.
  int copy_fd = -1;
};

// Every image this process loaded, by the identity of the file it came from. It only grows:
// old builds stay loaded until the process exits.
struct Images {
  std::mutex mutex;
  std::map<FileIdentity, std::shared_ptr<const Image>> by_file;
};

Images& images() {
  static Images all;
  return all;
}

std::string errnoText(int error) { return std::strerror(error); }

// Copies the file open at `fd`, whose identity is `id`, into a new anonymous memory file that
// dlopen() can load as "/proc/self/fd/N". Returns -1 with *why set when this system cannot make
// such a copy. Throws PluginError when the file changed while it was read: a build still
// writing it must not be loaded half-written.
int privateCopy(int fd, const std::string& path, const FileIdentity& id, std::string* why) {
  std::string base = path.substr(path.rfind('/') + 1).substr(0, 200);
  int made = ::memfd_create(base.c_str(), MFD_CLOEXEC | MFD_EXEC);
  if (made < 0 && errno == EINVAL) {
    made = ::memfd_create(base.c_str(), MFD_CLOEXEC);  // a kernel older than 6.3
  }
  if (made < 0) {
    *why = "memfd_create: " + errnoText(errno);
    return -1;
  }
  Fd copy(made);
  if (std::string self = fmt::format("/proc/self/fd/{}", copy.get());
      ::access(self.c_str(), R_OK) != 0) {
    *why = self + ": " + errnoText(errno);
    return -1;
  }
  char buffer[64 * 1024];
  int64_t copied = 0;
  for (off_t at = 0;;) {
    ssize_t n = ::pread(fd, buffer, sizeof buffer, at);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      throw PluginError(fmt::format("plugin {}: {}", path, errnoText(errno)));
    }
    if (n == 0) {
      break;
    }
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(copy.get(), buffer + done, static_cast<size_t>(n - done));
      if (w < 0 && errno != EINTR) {
        throw PluginError(
            fmt::format("plugin {}: cannot copy it into memory: {}", path, errnoText(errno)));
      }
      done += w > 0 ? w : 0;
    }
    at += n;
    copied += n;
  }
  struct stat after {};
  if (::fstat(fd, &after) != 0 || identityOf(after) != id || copied != id.size) {
    throw PluginError(
        fmt::format("plugin {}: the file changed while it was being read (is a build still "
                    "writing it?); load it again once it is complete",
                    path));
  }
  return copy.release();
}

// The image of the build `id` of `path` (open at `fd`): the one loaded earlier, or a new one.
std::shared_ptr<const Image> imageOf(const std::string& path, int fd, const FileIdentity& id) {
  Images& all = images();
  std::lock_guard lock(all.mutex);
  if (auto it = all.by_file.find(id); it != all.by_file.end()) {
    return it->second;
  }

  std::string no_copy;
  Fd copy(privateCopy(fd, path, id, &no_copy));
  std::string loaded_as = copy.get() >= 0 ? fmt::format("/proc/self/fd/{}", copy.get()) : path;
  // RTLD_NOW: an unresolved symbol is an error now, not a crash on the first request.
  // RTLD_LOCAL: two plugins, or two builds of one, may use the same symbol names.
  void* lib = ::dlopen(loaded_as.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    // The dynamic linker names the copy; the reader knows the file.
    const char* error = ::dlerror();
    std::string why = error ? error : "unknown error";
    for (size_t at = why.find(loaded_as); at != std::string::npos;
         at = why.find(loaded_as, at + path.size())) {
      why.replace(at, loaded_as.size(), path);
    }
    throw PluginError(fmt::format("plugin {}: not a loadable shared object: {}", path, why));
  }
  if (copy.get() < 0) {
    // Without a copy, dlopen() of a path it loaded before returns that image, whatever the
    // file holds now. Serving the old build under the new one's identity would be a lie.
    for (const auto& [other, image] : all.by_file) {
      if (image->handle == lib) {
        ::dlclose(lib);
        throw PluginError(fmt::format(
            "plugin {}: the file changed since it was loaded, and this system cannot load a "
            "second build of it ({}): restart portd to serve the new build",
            path, no_copy));
      }
    }
  }
  auto entry = reinterpret_cast<portd_plugin_entry_fn>(::dlsym(lib, PORTD_PLUGIN_ENTRY_SYMBOL));
  if (entry == nullptr) {
    ::dlclose(lib);
    throw PluginError(
        fmt::format("plugin {}: no {}() symbol: not a portd plugin, or built without PORTD_EXPORT",
                    path, PORTD_PLUGIN_ENTRY_SYMBOL));
  }
  const portd_plugin* p = entry();
  if (p == nullptr) {
    ::dlclose(lib);
    throw PluginError(
        fmt::format("plugin {}: {}() returned nothing", path, PORTD_PLUGIN_ENTRY_SYMBOL));
  }
  if (p->abi_version != PORTD_ABI_VERSION) {
    uint32_t version = p->abi_version;
    ::dlclose(lib);
    throw PluginError(fmt::format(
        "plugin {}: built for handler ABI version {}, but this portd speaks version {}: "
        "rebuild it against this portd's SDK",
        path, version, PORTD_ABI_VERSION));
  }
  // The table's size and its handlers' stride say which version of the structures the plugin
  // was built with (see "Compatibility" in <portd/handler.h>).
  constexpr size_t kV1Plugin = offsetof(portd_plugin, handler_count) + sizeof(size_t);
  if (p->size < kV1Plugin || p->handler_size < offsetof(portd_handler_def, name) + sizeof(void*)) {
    uint32_t size = p->size;
    uint32_t handler_size = p->handler_size;
    ::dlclose(lib);
    throw PluginError(fmt::format(
        "plugin {}: its portd_plugin table gives size {} and handler_size {}: initialise it with "
        "PORTD_PLUGIN_INIT (or PORTD_PLUGIN() in C++)",
        path, size, handler_size));
  }

  auto image = std::make_shared<Image>(Image{lib, p, copy.release()});
  all.by_file.emplace(id, image);
  return image;
}

}  // namespace

PluginInfo loadPlugin(const std::string& path, handlers::Registry& registry) {
  // O_NONBLOCK: a FIFO in the plugin's place must not hang the daemon's main thread.
  Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (file.get() < 0) {
    throw PluginError(fmt::format("plugin {}: {}", path, errnoText(errno)));
  }
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) {
    throw PluginError(fmt::format("plugin {}: {}", path, errnoText(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    throw PluginError(fmt::format("plugin {}: not a regular file", path));
  }
  FileIdentity id = identityOf(st);
  std::shared_ptr<const Image> image = imageOf(path, file.get(), id);
  const portd_plugin* p = image->plugin;

  // The factories share the image: what is made from them keeps it, should images ever be
  // unloaded. (Today every image stays loaded until exit; see images().)
  std::shared_ptr<const void> library = image;
  PluginInfo info{path, p->name ? p->name : "", p->version ? p->version : "", {}, id};
  handlers::Registry candidate = registry;
  try {
    const auto* base = reinterpret_cast<const unsigned char*>(p->handlers);
    for (size_t i = 0; i < p->handler_count; ++i) {
      const auto& def = *reinterpret_cast<const portd_handler_def*>(base + i * p->handler_size);
      auto factory = factoryFor(def, library);
      std::string name = factory->descriptor().name;
      if (auto error = candidate.add(std::move(factory))) {
        throw PluginError(fmt::format("plugin {}: {}", path, *error));
      }
      info.handlers.push_back(name);
    }
  } catch (const PluginError&) {
    throw;
  } catch (const std::exception& e) {
    throw PluginError(fmt::format("plugin {}: {}", path, e.what()));
  }
  if (info.handlers.empty()) {
    throw PluginError(fmt::format("plugin {}: it defines no handlers", path));
  }
  registry = std::move(candidate);
  return info;
}

std::vector<PluginInfo> loadPlugins(config::Config& config, handlers::Registry& registry) {
  std::vector<PluginInfo> loaded;
  for (size_t i = 0; i < config.plugins.size(); ++i) {
    config::PluginConfig& p = config.plugins[i];
    try {
      loaded.push_back(loadPlugin(p.path, registry));
    } catch (const PluginError& e) {
      throw config::ConfigError(config.source, p.place.line, p.place.column,
                                fmt::format("plugin[{}].path", i), e.what());
    }
    p.name = loaded.back().name;
    p.version = loaded.back().version;
    p.build = loaded.back().file.describe();
  }
  return loaded;
}

}  // namespace portd::plugin
