#pragma once

#include <string_view>

namespace portd::handlers::http {

// The reason phrase of a status code ("Not Found"), or "Unknown" for a code without one.
std::string_view reasonPhrase(int status);

// Whether a response with this status carries no body and no Content-Length (RFC 9110 8.6:
// 1xx, 204 and 304).
inline bool statusHasNoBody(int status) { return status < 200 || status == 204 || status == 304; }

}  // namespace portd::handlers::http
