#pragma once

#include <toml++/toml.h>

#include <string>

#include "config/toml_reader.h"
#include "net/faults.h"
#include "net/socket.h"

namespace portd::config {

// A listener's [listener.faults] table (`path` is "listener[N].faults"), checked: the keys of
// the other transport are errors, probabilities are from 0 to 1, delays add up to at most 100 %
// and last at most a minute, rates are "1MiB/s" or bytes per second.
net::FaultSettings readFaults(const TomlReader& toml, const toml::table& t, const std::string& path,
                              net::Transport transport);

}  // namespace portd::config
