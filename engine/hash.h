// SHA-256 helpers for ids that must be the same on every machine and every run.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace lodestone {

// The first 32 hex digits of SHA-256 over each part followed by a NUL byte.
std::string sha256_hex32(std::initializer_list<std::string_view> parts);

}  // namespace lodestone
