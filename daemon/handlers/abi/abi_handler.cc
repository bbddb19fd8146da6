#include "handlers/abi/abi_handler.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <stdexcept>
#include <vector>

#include "config/option_reader.h"
#include "core/loop_context.h"
#include "handlers/abi/abi_worker.h"
#include "handlers/abi/host_api.h"
#include "handlers/abi/series_api.h"
#include "net/connection.h"
#include "net/udp_socket.h"

namespace portd::handlers::abi {

static_assert(PORTD_TCP == kTcp && PORTD_UDP == kUdp, "the ABI's protocol bits are portd's");

namespace {

thread_local portd_worker* t_dispatching = nullptr;

// Per worker: the C instance behind the C++ Handler interface the listeners call.
class AbiHandler final : public Handler {
 public:
  AbiHandler(const portd_handler_def& def, const void* config, const InstanceContext& where) {
    w_.def = &def;
    w_.handler = this;
    w_.listener = where.listener;
    w_.loop = &where.loop;
    w_.stats = &where.stats;
    w_.creating = true;
    {
      DispatchScope scope(&w_);
      w_.instance = def.create ? def.create(hostApi(), &w_, config) : nullptr;
    }
    w_.creating = false;
    if (def.create != nullptr && w_.instance == nullptr) {
      seriesRelease(&w_);  // the destructor does not run
      throw std::runtime_error(
          fmt::format("handler \"{}\" could not create its instance", def.name));
    }
  }

  ~AbiHandler() override {
    // Its timers must not fire into a destroyed instance.
    w_.loop->timers().cancelAll(&w_);
    if (w_.def->destroy != nullptr) {
      DispatchScope scope(&w_);
      w_.def->destroy(w_.instance);
    }
    // Its series leave the metrics with it.
    seriesRelease(&w_);
  }

  void onOpen(net::Connection& conn) override {
    if (w_.def->on_open != nullptr) {
      DispatchScope scope(&w_);
      check(conn, "on_open", w_.def->on_open(w_.instance, conn.id()));
    }
  }

  void onData(net::Connection& conn, std::string_view data) override {
    if (w_.def->on_data != nullptr) {
      DispatchScope scope(&w_);
      check(conn, "on_data", w_.def->on_data(w_.instance, conn.id(), data.data(), data.size()));
    }
  }

  void onWritable(net::Connection& conn) override {
    if (w_.def->on_writable != nullptr) {
      DispatchScope scope(&w_);
      check(conn, "on_writable", w_.def->on_writable(w_.instance, conn.id()));
    }
  }

  void onDrain(net::Connection& conn) override {
    if (w_.def->on_drain != nullptr) {
      DispatchScope scope(&w_);
      check(conn, "on_drain", w_.def->on_drain(w_.instance, conn.id()));
    }
  }

  void onPeerClosed(net::Connection& conn) override {
    if (w_.def->on_peer_closed == nullptr) {
      conn.close();
      return;
    }
    DispatchScope scope(&w_);
    check(conn, "on_peer_closed", w_.def->on_peer_closed(w_.instance, conn.id()));
  }

  void onClose(net::Connection& conn) override {
    if (w_.def->on_close != nullptr) {
      DispatchScope scope(&w_);
      w_.def->on_close(w_.instance, conn.id());
    }
  }

  void onDatagram(net::UdpSocket& socket, const sockaddr* peer, std::string_view data) override {
    if (w_.def->on_datagram != nullptr) {
      DispatchScope scope(&w_);
      int rc = w_.def->on_datagram(w_.instance, socket.id(), peer, data.data(), data.size());
      if (rc < 0) {
        reportHandlerError(&w_, "on_datagram", rc, "no reply is sent");
      }
    }
  }

 private:
  // A failing callback costs the connection, never the daemon.
  void check(net::Connection& conn, const char* callback, int rc) {
    if (rc < 0) {
      reportHandlerError(&w_, callback, rc, "the connection is closed");
      conn.abort();
    }
  }

  portd_worker w_;
};

// A handler table as this portd reads it: copied out of the plugin at the size the plugin was
// built with, so that fields a plugin built against an older header lacks read as NULL.
struct Table {
  portd_handler_def def{};
  std::vector<portd_option_def> options;
  std::shared_ptr<const void> library;  // keeps the code of the callbacks mapped
};

class AbiConfig final : public HandlerConfig {
 public:
  AbiConfig(std::shared_ptr<const Table> table, void* config)
      : table_(std::move(table)), config_(config) {}
  // Runs on the main thread: the supervisor keeps every configuration until it holds the last
  // reference (see Supervisor::sweepConfigs).
  ~AbiConfig() override {
    if (table_->def.release_config != nullptr) {
      table_->def.release_config(config_);
    }
  }
  std::unique_ptr<Handler> createInstance(const InstanceContext& where) const override {
    return std::make_unique<AbiHandler>(table_->def, config_, where);
  }

 private:
  std::shared_ptr<const Table> table_;
  void* config_;
};

// Whether bytes [from, to) of `p` are all zero: how a field this portd does not know of, in a
// structure from a plugin built against a later header, is accepted as absent.
bool zeroTail(const void* p, size_t from, size_t to) {
  const auto* bytes = static_cast<const unsigned char*>(p);
  for (size_t i = from; i < to; ++i) {
    if (bytes[i] != 0) {
      return false;
    }
  }
  return true;
}

// Copies a structure of `size` bytes from a plugin into `out` (this portd's size), as the
// compatibility rules of <portd/handler.h> say.
template <typename T>
void copyVersioned(const void* from, size_t size, T* out, const char* what, const char* label) {
  constexpr size_t kMin = offsetof(T, name) + sizeof(const char*);
  if (size < kMin) {
    throw std::runtime_error(fmt::format(
        "{} \"{}\": its size field is {} (built with an unknown header, or not initialised "
        "with PORTD_HANDLER_INIT)",
        what, label ? label : "?", size));
  }
  if (size > sizeof(T) && !zeroTail(from, sizeof(T), size)) {
    throw std::runtime_error(fmt::format(
        "{} \"{}\" uses a part of the handler interface this portd does not have (built "
        "against a newer portd): upgrade portd or rebuild the plugin against this portd's SDK",
        what, label ? label : "?"));
  }
  *out = T{};
  std::memcpy(out, from, std::min(size, sizeof(T)));
}

OptionType optionType(const portd_handler_def& def, const portd_option_def& o) {
  switch (o.type) {
    case PORTD_OPT_BOOL:
      return OptionType::kBool;
    case PORTD_OPT_INT:
      return OptionType::kInteger;
    case PORTD_OPT_STRING:
      return OptionType::kString;
    case PORTD_OPT_DURATION:
      return OptionType::kDuration;
    case PORTD_OPT_SIZE:
      return OptionType::kSize;
    case PORTD_OPT_INT_LIST:
      return OptionType::kIntegerList;
    case PORTD_OPT_PATH:
      return OptionType::kPath;
    default:
      throw std::runtime_error(fmt::format("handler \"{}\": option \"{}\" has unknown type {}",
                                           def.name, o.name, o.type));
  }
}

class AbiFactory final : public HandlerFactory {
 public:
  AbiFactory(const portd_handler_def& plugin_def, std::shared_ptr<const void> library)
      : table_(read(plugin_def, std::move(library))), def_(table_->def) {
    const portd_handler_def& def = def_;
    if (def.name == nullptr || def.name[0] == '\0') {
      throw std::runtime_error("a handler has no name");
    }
    if ((def.protocols & (kTcp | kUdp)) == 0 || (def.protocols & ~(kTcp | kUdp)) != 0) {
      throw std::runtime_error(
          fmt::format("handler \"{}\": protocols must be PORTD_TCP, "
                      "PORTD_UDP or both",
                      def.name));
    }
    if ((def.protocols & kTcp) && def.on_data == nullptr) {
      throw std::runtime_error(
          fmt::format("handler \"{}\" speaks TCP but has no on_data", def.name));
    }
    descriptor_.name = def.name;
    descriptor_.description = def.description ? def.description : "";
    descriptor_.protocols = def.protocols;
    for (const portd_option_def& o : table_->options) {
      size_t i = static_cast<size_t>(&o - table_->options.data());
      if (o.name == nullptr || o.default_value == nullptr) {
        throw std::runtime_error(
            fmt::format("handler \"{}\": option {} needs a name and a default", def.name, i));
      }
      OptionType type = optionType(def, o);
      OptionValue value;
      try {
        value = config::parseOptionValue(type, o.default_value);
      } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format("handler \"{}\": default of option \"{}\": {}",
                                             def.name, o.name, e.what()));
      }
      descriptor_.options.push_back({o.name, type, std::move(value), o.help ? o.help : ""});
    }
  }

  const HandlerDescriptor& descriptor() const override { return descriptor_; }
  const portd_handler_def& table() const { return table_->def; }

  // "max_line: must be positive" names the option, so that the error can point at it in the
  // file; any other reason is about the options as a whole.
  OptionError rejection(std::string_view reason) const {
    size_t colon = reason.find(": ");
    if (colon != std::string_view::npos) {
      std::string_view name = reason.substr(0, colon);
      for (const OptionSpec& o : descriptor_.options) {
        if (o.name == name) {
          return OptionError(o.name, std::string(reason.substr(colon + 2)));
        }
      }
    }
    return OptionError("", std::string(reason));
  }

  std::shared_ptr<const HandlerConfig> configure(const Options& options) const override {
    char error[512] = "";
    void* config = nullptr;
    if (def_.configure != nullptr) {
      config = def_.configure(hostApi(), reinterpret_cast<const portd_options*>(&options), error,
                              sizeof error);
      if (config == nullptr) {
        error[sizeof error - 1] = '\0';
        throw rejection(error[0] ? error : "the handler rejected its options");
      }
    }
    return std::make_shared<AbiConfig>(table_, config);
  }

 private:
  static std::shared_ptr<const Table> read(const portd_handler_def& def,
                                           std::shared_ptr<const void> library) {
    auto table = std::make_shared<Table>();
    // The name is read before the size is checked, for the message; it is the third field of
    // every version of the structure.
    const char* name =
        def.size >= offsetof(portd_handler_def, name) + sizeof(const char*) ? def.name : nullptr;
    copyVersioned(&def, def.size, &table->def, "handler", name);
    const portd_handler_def& d = table->def;
    if (d.option_count > 0) {
      if (d.options == nullptr ||
          d.option_size < offsetof(portd_option_def, help) + sizeof(const char*)) {
        throw std::runtime_error(fmt::format(
            "handler \"{}\": option_size is {}: initialise the table with PORTD_HANDLER_INIT",
            d.name ? d.name : "?", d.option_size));
      }
      const auto* base = reinterpret_cast<const unsigned char*>(d.options);
      for (size_t i = 0; i < d.option_count; ++i) {
        portd_option_def o{};
        const unsigned char* at = base + i * d.option_size;
        if (d.option_size > sizeof o && !zeroTail(at, sizeof o, d.option_size)) {
          throw std::runtime_error(fmt::format(
              "handler \"{}\": option {} uses fields this portd does not have (built against a "
              "newer portd)",
              d.name ? d.name : "?", i));
        }
        std::memcpy(&o, at, std::min<size_t>(d.option_size, sizeof o));
        table->options.push_back(o);
      }
    }
    table->def.options = table->options.data();
    table->library = std::move(library);
    return table;
  }

  std::shared_ptr<const Table> table_;
  const portd_handler_def& def_;
  HandlerDescriptor descriptor_;
};

}  // namespace

portd_worker* dispatching() { return t_dispatching; }

DispatchScope::DispatchScope(portd_worker* w) : previous_(t_dispatching) { t_dispatching = w; }
DispatchScope::~DispatchScope() { t_dispatching = previous_; }

const portd_handler_def* tableOf(const HandlerFactory& factory) {
  const auto* abi = dynamic_cast<const AbiFactory*>(&factory);
  return abi ? &abi->table() : nullptr;
}

std::shared_ptr<HandlerFactory> makeFactory(const portd_handler_def& def,
                                            std::shared_ptr<const void> library) {
  return std::make_shared<AbiFactory>(def, std::move(library));
}

}  // namespace portd::handlers::abi
