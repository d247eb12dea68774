// When to try a failed delivery again: exponential backoff with jitter, Retry-After, a deadline.
// Pure functions of their arguments (no clock, no randomness of their own); call from any thread.
#pragma once

#include <optional>

#include "lodestone/notifier.h"

namespace lodestone {

struct RetryPolicy {
  int max_attempts = 8;        // attempts in all, the first one included
  double initial_backoff = 2;  // seconds before the second attempt
  double max_backoff = 3600;   // no wait is longer, Retry-After included
  double multiplier = 2;       // each wait is this times the one before
  double jitter = 0.2;         // a wait is spread over [1 - jitter, 1 + jitter] times its backoff
  double max_age = 86400;      // no attempt is made later than this after the first one
};

// The time of the next attempt, on the clock `first_attempt_at` and `now` come from, after
// `attempts_made` attempts (>= 1) of which `last` was the latest and ended at `now`; nullopt when
// there is none: the last attempt was dead (or delivered), max_attempts are made, or the next
// attempt would fall after first_attempt_at + max_age.
//
// The wait is initial_backoff * multiplier^(attempts_made - 1), capped at max_backoff, times a
// jitter factor 1 + jitter * (2 * random01 - 1), and again never more than max_backoff. A
// Retry-After longer than that wait replaces it, capped at max_backoff too. `random01` in [0, 1)
// comes from the caller so that tests choose it; values outside are clamped into it.
std::optional<double> next_attempt_at(const RetryPolicy& policy, int attempts_made, double first_attempt_at, double now,
                                      const DeliveryAttempt& last, double random01);

}  // namespace lodestone
