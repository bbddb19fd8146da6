#pragma once

#include <portd/handler.h>

namespace portd::handlers::discard {

// RFC 863 discard over TCP and UDP: reads everything and answers nothing.
const portd_handler_def& definition();

}  // namespace portd::handlers::discard
