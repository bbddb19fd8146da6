#pragma once

#include <cstdint>
#include <string_view>

namespace portd::handlers::smtp {

// The commands of RFC 5321 the sink knows, plus BDAT (RFC 3030). Verbs are case-insensitive.
enum class Verb {
  kUnknown,
  kEhlo,
  kHelo,
  kMail,
  kRcpt,
  kData,
  kBdat,
  kRset,
  kNoop,
  kQuit,
  kVrfy,
  kHelp,
  kExpn,
};

// One command line, without its CRLF: the verb and what follows the space after it.
struct Command {
  Verb verb = Verb::kUnknown;
  std::string_view arg;
};

Command parseCommand(std::string_view line);

// Why the argument of MAIL or RCPT was refused; each maps to one reply (session.cc).
enum class ArgError {
  kOk,
  kSyntax,         // no "FROM:" / "TO:", or junk: 501 5.5.4
  kBadPath,        // a path that is not <...> or holds what a path may not: 501 5.1.7 / 5.1.3
  kUnknownParam,   // an ESMTP parameter that was not advertised: 555 5.5.4
  kBadParamValue,  // SIZE=abc, BODY=BINARYMIME: 501 5.5.4
};

enum class BodyType { k7Bit, k8BitMime };

// MAIL FROM:<reverse-path> [SP params]: the parameters advertised by EHLO (SIZE, BODY,
// SMTPUTF8). `path` views the line, brackets included; "<>" is the null reverse path.
struct MailFrom {
  std::string_view path;
  bool has_size = false;
  uint64_t size = 0;
  BodyType body = BodyType::k7Bit;
  bool smtputf8 = false;
};

// Longest path, brackets included (RFC 5321 4.5.3.1.3: 256 octets).
inline constexpr size_t kMaxPath = 256;

ArgError parseMailFrom(std::string_view arg, MailFrom* out);
// RCPT TO:<forward-path>: no parameter is advertised for RCPT, so any is kUnknownParam. The null
// path is refused (kBadPath).
ArgError parseRcptTo(std::string_view arg, std::string_view* path);

// BDAT <size> [LAST] (RFC 3030). False on a malformed argument.
struct Bdat {
  uint64_t size = 0;
  bool last = false;
};
bool parseBdat(std::string_view arg, Bdat* out);

// Whether `a` equals `b` ignoring ASCII case; `b` is upper case.
bool equalsUpper(std::string_view a, std::string_view b);

}  // namespace portd::handlers::smtp
