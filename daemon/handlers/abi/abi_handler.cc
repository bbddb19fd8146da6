#include "handlers/abi/abi_handler.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "config/option_reader.h"
#include "core/loop_context.h"
#include "handlers/abi/abi_worker.h"
#include "handlers/abi/host_api.h"
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
      int rc = w_.def->on_datagram(w_.instance, reinterpret_cast<portd_dgram*>(&socket), peer,
                                   data.data(), data.size());
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

class AbiConfig final : public HandlerConfig {
 public:
  AbiConfig(const portd_handler_def& def, void* config, std::shared_ptr<const void> library)
      : def_(def), config_(config), library_(std::move(library)) {}
  ~AbiConfig() override {
    if (def_.release_config != nullptr) {
      def_.release_config(config_);
    }
  }
  std::unique_ptr<Handler> createInstance(const InstanceContext& where) const override {
    return std::make_unique<AbiHandler>(def_, config_, where);
  }

 private:
  const portd_handler_def& def_;
  void* config_;
  std::shared_ptr<const void> library_;
};

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
    default:
      throw std::runtime_error(fmt::format("handler \"{}\": option \"{}\" has unknown type {}",
                                           def.name, o.name, o.type));
  }
}

class AbiFactory final : public HandlerFactory {
 public:
  AbiFactory(const portd_handler_def& def, std::shared_ptr<const void> library)
      : def_(def), library_(std::move(library)) {
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
    for (size_t i = 0; i < def.option_count; ++i) {
      const portd_option_def& o = def.options[i];
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
    return std::make_shared<AbiConfig>(def_, config, library_);
  }

 private:
  const portd_handler_def& def_;
  std::shared_ptr<const void> library_;
  HandlerDescriptor descriptor_;
};

}  // namespace

portd_worker* dispatching() { return t_dispatching; }

DispatchScope::DispatchScope(portd_worker* w) : previous_(t_dispatching) { t_dispatching = w; }
DispatchScope::~DispatchScope() { t_dispatching = previous_; }

std::shared_ptr<HandlerFactory> makeFactory(const portd_handler_def& def,
                                            std::shared_ptr<const void> library) {
  return std::make_shared<AbiFactory>(def, std::move(library));
}

}  // namespace portd::handlers::abi
