#pragma once

#include <portd/handler.h>

namespace portd::handlers::smtp {

// A mail sink for testing senders (like Postfix's smtp-sink): RFC 5321 server side with
// PIPELINING, SIZE, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES and optional CHUNKING; accepted mail
// is dropped (counted) or written to a Maildir; faults can be injected per command. Written
// against the public handler interface. See docs/smtp.md.
const portd_handler_def& definition();

}  // namespace portd::handlers::smtp
