// Wall-clock time as the store and alerts write it: Unix milliseconds, and RFC 3339 UTC with
// seconds. Pure functions of the system clock; any thread.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>

namespace lodestone {

// Milliseconds since the Unix epoch, the store's clock.
int64_t system_now_ms();
// Milliseconds of the steady clock (an arbitrary epoch), for waits and schedules that must not
// jump with the wall clock.
int64_t steady_now_ms();

// "2026-01-11T11:08:03Z", as alerts' matched_at is written; empty when `unix_seconds` is out of
// the range gmtime can take.
std::string rfc3339_utc(std::time_t unix_seconds);

}  // namespace lodestone
