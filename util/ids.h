// Ids that must be the same on every machine and every run: alert ids, post ids derived from a
// post's text, a text file's id. Pure functions; any thread. Implemented in sha256.cpp.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace lodestone {

// The first 32 hex digits of SHA-256 over each part followed by a NUL byte.
std::string sha256_hex32(std::initializer_list<std::string_view> parts);
// The same digits written into `out`, replacing what it held and keeping its capacity.
void sha256_hex32(std::initializer_list<std::string_view> parts, std::string& out);

}  // namespace lodestone
