#pragma once

#include <portd/handler.h>

namespace portd::handlers::echo {

// RFC 862 echo over TCP and UDP, written against the public handler interface like a plugin.
// Over UDP it never answers a datagram that comes from a well-known service port (by default
// 7, 13, 17, 19, 37, 53, 123): a spoofed datagram "from" another echo or chargen service would
// otherwise start a loop that never ends.
const portd_handler_def& definition();

}  // namespace portd::handlers::echo
