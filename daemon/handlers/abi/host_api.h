#pragma once

#include <portd/handler.h>

namespace portd::handlers::abi {

// The function table portd hands to every handler, built-in or plugin.
const portd_host_api* hostApi();

// Logs that callback `what` of an instance failed, and what portd did about it (rate-limited
// per instance).
void reportHandlerError(portd_worker* w, const char* what, int status, const char* outcome);

}  // namespace portd::handlers::abi
