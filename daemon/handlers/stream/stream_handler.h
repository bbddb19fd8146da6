#pragma once

#include <portd/handler.h>

namespace portd::handlers::stream {

// Fixed-rate streams over UDP and TCP: a sink that accounts loss, duplicates, reordering and
// RFC 3550 jitter per peer (and may echo), a source that sends at a bitrate, and a mode that
// answers sockperf's own client. Written against the public handler interface. See
// docs/stream.md.
const portd_handler_def& definition();

}  // namespace portd::handlers::stream
