#pragma once

#include <string_view>

namespace portd::handlers::http {

// Whether `name` is an HTTP token (RFC 9110 5.6.2), as a field name must be.
bool isToken(std::string_view name);
// Whether `value` can be sent as a field value as it is: visible characters, spaces and tabs,
// and no CR, LF or NUL, so that it cannot end the line and start another one.
bool isFieldValue(std::string_view value);
// Whether `value` can be a Host field: a URI host (a name or IPv4 address, or an IP literal in
// brackets) with an optional port, or empty (RFC 9110 7.2, RFC 3986 3.2.2): only unreserved
// characters, percent-encodings, sub-delimiters, ':' and brackets. A space, '/', '?', '#' or
// '@' would make the authority read differently by the next server.
bool isHostValue(std::string_view value);
// ASCII case-insensitive comparison, as field names and many field values are compared.
bool equalsIgnoreCase(std::string_view a, std::string_view b);
// Fields the server writes itself and that configuration or a query must not add, because they
// frame the message or describe the connection (Content-Length, Transfer-Encoding, Connection),
// or are always present (Date, Server). Content-Type is not one: it may be replaced.
bool isServerManagedField(std::string_view name);

}  // namespace portd::handlers::http
