#pragma once

#include <portd/handler.h>

namespace portd::handlers::dns {

// A static authoritative DNS server over UDP and TCP (docs/dns.md), written against the public
// handler interface like a plugin.
const portd_handler_def& definition();

}  // namespace portd::handlers::dns
