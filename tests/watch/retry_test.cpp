// The retry schedule: backoff, jitter, Retry-After, and when a delivery is dead.
#include "watch/retry.h"

#include <catch2/catch.hpp>

#include <deque>
#include <vector>

using lodestone::DeliveryAttempt;
using lodestone::next_attempt_at;
using lodestone::RetryPolicy;
using Outcome = DeliveryAttempt::Outcome;

namespace {

DeliveryAttempt failed(int status = 503, double retry_after = -1) {
  DeliveryAttempt a;
  a.outcome = Outcome::kRetry;
  a.status = status;
  a.retry_after = retry_after;
  return a;
}

RetryPolicy no_jitter() {
  RetryPolicy p;
  p.jitter = 0;
  return p;
}

// The wait after `attempts` attempts, the last ending at t = 1000, the first at t = 1000 too.
double wait_after(const RetryPolicy& p, int attempts, const DeliveryAttempt& last = failed(), double random01 = 0.5) {
  auto next = next_attempt_at(p, attempts, 1000, 1000, last, random01);
  REQUIRE(next);
  return *next - 1000;
}

}  // namespace

TEST_CASE("the backoff doubles after each failure and stops growing at max_backoff", "[retry]") {
  RetryPolicy p = no_jitter();
  p.max_attempts = 100;
  p.max_age = 1e9;
  CHECK(wait_after(p, 1) == 2);
  CHECK(wait_after(p, 2) == 4);
  CHECK(wait_after(p, 3) == 8);
  CHECK(wait_after(p, 4) == 16);
  CHECK(wait_after(p, 11) == 2048);
  CHECK(wait_after(p, 12) == 3600);  // 4096, capped
  CHECK(wait_after(p, 60) == 3600);
  CHECK(wait_after(p, 99) == 3600);  // 2^98 * 2 is far past any cap, and no overflow shows
}

TEST_CASE("jitter spreads a wait over [1 - jitter, 1 + jitter] of the backoff, never past the cap", "[retry]") {
  RetryPolicy p;  // jitter 0.2
  CHECK(wait_after(p, 3, failed(), 0.0) == Approx(8 * 0.8));
  CHECK(wait_after(p, 3, failed(), 0.999) == Approx(8 * (1 + 0.2 * 0.998)));
  CHECK(wait_after(p, 3, failed(), 0.999) < 8 * 1.2);
  CHECK(wait_after(p, 3, failed(), 0.5) == Approx(8));
  for (double r : {0.0, 0.1, 0.25, 0.5, 0.75, 0.999}) {
    const double w = wait_after(p, 3, failed(), r);
    CHECK(w >= 8 * 0.8 - 1e-9);
    CHECK(w < 8 * 1.2);
  }
  // Out-of-range randomness is clamped, not trusted.
  CHECK(wait_after(p, 3, failed(), -4) == Approx(8 * 0.8));
  CHECK(wait_after(p, 3, failed(), 7) <= 8 * 1.2 + 1e-9);
  // At the cap the jitter can only shorten the wait.
  p.max_attempts = 100;
  p.max_age = 1e9;
  CHECK(wait_after(p, 12, failed(), 0.0) == Approx(3600 * 0.8));
  CHECK(wait_after(p, 12, failed(), 0.999) == 3600);
}

TEST_CASE("a Retry-After longer than the backoff wins, capped at max_backoff", "[retry]") {
  RetryPolicy p = no_jitter();
  CHECK(wait_after(p, 1, failed(429, 30)) == 30);
  CHECK(wait_after(p, 4, failed(503, 7)) == 16);  // shorter than the backoff: the backoff stands
  CHECK(wait_after(p, 1, failed(503, 0)) == 2);
  CHECK(wait_after(p, 1, failed(503, 86400 * 7)) == 3600);
  CHECK(wait_after(p, 1, failed(503, -1)) == 2);  // none given
}

TEST_CASE("a dead attempt has no next attempt, nor has a delivered one", "[retry]") {
  RetryPolicy p;
  DeliveryAttempt dead;
  dead.outcome = Outcome::kDead;
  dead.status = 400;
  CHECK_FALSE(next_attempt_at(p, 1, 1000, 1000, dead, 0.5));
  DeliveryAttempt delivered;
  delivered.outcome = Outcome::kDelivered;
  delivered.status = 200;
  CHECK_FALSE(next_attempt_at(p, 1, 1000, 1000, delivered, 0.5));
  CHECK(next_attempt_at(p, 1, 1000, 1000, failed(), 0.5));
}

TEST_CASE("after max_attempts attempts the delivery is dead", "[retry]") {
  RetryPolicy p;
  p.max_attempts = 8;
  CHECK(next_attempt_at(p, 7, 1000, 1000, failed(), 0.5));
  CHECK_FALSE(next_attempt_at(p, 8, 1000, 1000, failed(), 0.5));
  CHECK_FALSE(next_attempt_at(p, 9, 1000, 1000, failed(), 0.5));
  p.max_attempts = 1;
  CHECK_FALSE(next_attempt_at(p, 1, 1000, 1000, failed(), 0.5));
}

TEST_CASE("no attempt is scheduled later than max_age after the first", "[retry]") {
  RetryPolicy p = no_jitter();
  p.max_age = 100;
  // First attempt at 1000; the 4th failed at 1080, its wait of 16 would end at 1096: allowed.
  CHECK(next_attempt_at(p, 4, 1000, 1080, failed(), 0.5) == Approx(1096));
  // The same wait from 1090 ends at 1106, past 1100.
  CHECK_FALSE(next_attempt_at(p, 4, 1000, 1090, failed(), 0.5));
  // Exactly at the deadline is still in time.
  CHECK(next_attempt_at(p, 4, 1000, 1084, failed(), 0.5) == Approx(1100));
  // A Retry-After can push it past the deadline too.
  CHECK_FALSE(next_attempt_at(p, 1, 1000, 1000, failed(429, 200), 0.5));
}

TEST_CASE("five failures then a success give the expected schedule on a fake clock", "[retry]") {
  // The receiver's answers, in order; each attempt takes half a second on the fake clock.
  std::deque<DeliveryAttempt> answers = {failed(503), failed(503), failed(429, 30), failed(0), failed(500)};
  DeliveryAttempt ok;
  ok.outcome = Outcome::kDelivered;
  ok.status = 200;
  answers.push_back(ok);

  RetryPolicy p = no_jitter();
  double clock = 1000;
  const double first = clock;
  std::vector<double> attempts_at;
  int attempts = 0;
  std::optional<double> next = first;
  DeliveryAttempt last;
  while (next) {
    clock = *next;
    attempts_at.push_back(clock);
    last = answers.front();
    answers.pop_front();
    ++attempts;
    clock += 0.5;
    next = next_attempt_at(p, attempts, first, clock, last, 0.5);
  }
  CHECK(last.outcome == Outcome::kDelivered);
  CHECK(answers.empty());
  // Waits 2, 4, then Retry-After 30 over a backoff of 8, then 16 and 32.
  CHECK(attempts_at == std::vector<double>{1000, 1002.5, 1007, 1037.5, 1054, 1086.5});
}
