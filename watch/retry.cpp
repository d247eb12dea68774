// The retry schedule of a delivery: backoff, jitter, Retry-After and the limits that make it dead.
#include "watch/retry.h"

#include <algorithm>
#include <cmath>

namespace lodestone {

std::optional<double> next_attempt_at(const RetryPolicy& policy, int attempts_made, double first_attempt_at, double now,
                                      const DeliveryAttempt& last, double random01) {
  if (last.outcome != DeliveryAttempt::Outcome::kRetry) return std::nullopt;
  if (attempts_made >= policy.max_attempts) return std::nullopt;
  const int failures = std::max(attempts_made, 1);

  // pow overflows to infinity rather than wrapping, and the cap takes it back; a zero initial
  // backoff is tested apart so that it never meets that infinity (0 * inf is NaN).
  double backoff = 0;
  if (policy.initial_backoff > 0) {
    backoff = policy.initial_backoff * std::pow(policy.multiplier, failures - 1);
    backoff = std::min(backoff, policy.max_backoff);
  }
  // NaN fails both comparisons and becomes 0, the low end.
  const double r = random01 >= 0 ? std::min(random01, 1.0) : 0.0;
  const double jitter = std::clamp(policy.jitter, 0.0, 1.0);
  double wait = std::min(backoff * (1 + jitter * (2 * r - 1)), policy.max_backoff);
  if (last.retry_after > wait) wait = std::min(last.retry_after, policy.max_backoff);
  wait = std::max(wait, 0.0);

  const double next = now + wait;
  if (next > first_attempt_at + policy.max_age) return std::nullopt;
  return next;
}

}  // namespace lodestone
