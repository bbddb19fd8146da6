#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "handlers/handler.h"

namespace portd::handlers {

// Maps handler names to factories. Filled once at start-up, before any worker runs, and only
// read afterwards, so it needs no lock.
class Registry {
 public:
  // Returns an error message when the name is already taken; the registry is then unchanged.
  std::optional<std::string> add(std::unique_ptr<HandlerFactory> factory);

  template <typename Factory>
  void addBuiltin() {
    if (auto error = add(std::make_unique<Factory>())) {
      throw std::logic_error(*error);
    }
  }

  const HandlerFactory* find(const std::string& name) const;
  std::vector<const HandlerFactory*> all() const;  // sorted by name
  std::string names() const;                        // "discard, echo"

 private:
  std::map<std::string, std::unique_ptr<HandlerFactory>> factories_;
};

// Registers every built-in handler: one line each, in builtin.cc.
void registerBuiltins(Registry& registry);

}  // namespace portd::handlers
