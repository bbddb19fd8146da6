#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace portd::load {

// Base64 as HdrHistogram's logs use it: the standard alphabet (RFC 4648 section 4) with '='
// padding, no line breaks.
std::string encodeBase64(std::string_view bytes);

// The bytes of `text`, or nullopt with `error` set (naming the offending position) when it is
// not base64 in the form above: a length that is not a multiple of 4, a character outside
// the alphabet, padding anywhere but at the end. Whitespace is not skipped.
std::optional<std::string> decodeBase64(std::string_view text, std::string* error);

}  // namespace portd::load
