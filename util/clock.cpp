// The wall clock, in the store's and the alerts' units.
#include "util/clock.h"

#include <chrono>

namespace lodestone {

int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string rfc3339_utc(std::time_t unix_seconds) {
  std::tm tm{};
  if (!gmtime_r(&unix_seconds, &tm)) return {};
  char buf[32];
  if (std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) return {};
  return buf;
}

}  // namespace lodestone
