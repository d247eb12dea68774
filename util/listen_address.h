// Listen addresses: "host:port" as the HTTP source's `listen` and the watcher's `admin` are
// written, and whether a host is loopback (where no token is required). Pure functions; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lodestone {

// A listen address: "host:port", or "[v6 address]:port" (an IPv6 address needs its brackets, or
// its last group would be read as the port). The HTTP source's `listen` and the watcher's
// `admin` are read by this one parser.
struct ListenAddress {
  std::string host;  // without the brackets of an IPv6 address
  int port = -1;
};
std::optional<ListenAddress> parse_listen_address(std::string_view text);

// 127.0.0.0/8, ::1, an IPv4-mapped loopback address, or "localhost".
bool is_loopback(const std::string& host);

}  // namespace lodestone
