#pragma once

#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "handlers/handler.h"

namespace portd::handlers {

// Maps handler names to factories. Filled once at start-up, before any worker runs, and only
// read afterwards, so it needs no lock.
class Registry {
 public:
  // Returns an error message when the name is already taken; the registry is then unchanged.
  std::optional<std::string> add(std::shared_ptr<HandlerFactory> factory);

  // A built-in handler (see builtin/builtin.cc). A duplicate name is a programming error.
  void addBuiltin(std::shared_ptr<HandlerFactory> factory);

  const HandlerFactory* find(const std::string& name) const;
  // The same entry, shared: what a bound listener keeps (config::ListenerConfig::handler_factory).
  std::shared_ptr<const HandlerFactory> entry(const std::string& name) const;
  std::vector<const HandlerFactory*> all() const;  // sorted by name
  std::string names() const;                       // "discard, echo"

 private:
  // Shared, so that a configuration can copy the built-ins and add its plugins' handlers.
  std::map<std::string, std::shared_ptr<HandlerFactory>> factories_;
};

}  // namespace portd::handlers
