// Standard base64 (RFC 4648, with padding), over libcrypto's EVP encoder: RFC 2047 encoded words
// (email subjects, ntfy headers), webhook signatures and their secrets. Pure functions; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lodestone {

std::string base64_encode(std::string_view bytes);

// The bytes of standard base64, padded or not; nullopt for any character outside the alphabet
// (blanks included) or a length no encoding has.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace lodestone
