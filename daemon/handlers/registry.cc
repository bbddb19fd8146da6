#include "handlers/registry.h"

namespace portd::handlers {

std::string protocolsToString(unsigned protocols) {
  std::string out;
  if (protocols & kTcp) {
    out = "tcp";
  }
  if (protocols & kUdp) {
    out += out.empty() ? "udp" : ", udp";
  }
  return out;
}

void Registry::addBuiltin(std::shared_ptr<HandlerFactory> factory) {
  if (auto error = add(std::move(factory))) {
    throw std::logic_error(*error);
  }
}

std::optional<std::string> Registry::add(std::shared_ptr<HandlerFactory> factory) {
  const std::string& name = factory->descriptor().name;
  if (factories_.contains(name)) {
    return "a handler named \"" + name + "\" is already registered";
  }
  factories_.emplace(name, std::move(factory));
  return std::nullopt;
}

const HandlerFactory* Registry::find(const std::string& name) const {
  auto it = factories_.find(name);
  return it == factories_.end() ? nullptr : it->second.get();
}

std::shared_ptr<const HandlerFactory> Registry::entry(const std::string& name) const {
  auto it = factories_.find(name);
  return it == factories_.end() ? nullptr : it->second;
}

std::vector<const HandlerFactory*> Registry::all() const {
  std::vector<const HandlerFactory*> out;
  for (const auto& [name, factory] : factories_) {
    out.push_back(factory.get());
  }
  return out;
}

std::string Registry::names() const {
  std::string out;
  for (const auto& [name, factory] : factories_) {
    out += out.empty() ? name : ", " + name;
  }
  return out;
}

}  // namespace portd::handlers
