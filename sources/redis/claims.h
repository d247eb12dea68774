// The redis source's decisions, apart from Redis so that tests drive them with a fake clock:
// what becomes of an entry handed over again, when the janitor runs, how long to wait before
// reconnecting, and when an outage begins and ends (one log line each, not one per attempt).
// Plain values; one thread (the source's).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace lodestone {

enum class EntryVerdict {
  kProcess,     // match it (again)
  kDeadLetter,  // delivered more than max_deliveries times: to the dead-letter stream, then XACK
};

// `deliveries` is Redis's count for the entry, this delivery included (XPENDING's fourth field):
// 1 for an entry read fresh, 2 or more once it was re-read or claimed.
EntryVerdict verdict(int64_t deliveries, int64_t max_deliveries);

// When the janitor (XAUTOCLAIM of entries idle past claim_idle, the pending gauge) runs next:
// at once on the first call, then every `interval_ms`.
class JanitorSchedule {
 public:
  explicit JanitorSchedule(int64_t interval_ms) : interval_ms_(interval_ms) {}
  // True when a round is due at now_ms; it then counts as run.
  bool due(int64_t now_ms);
  // Milliseconds from now_ms until the next round (0 when due).
  int64_t wait_ms(int64_t now_ms) const;

 private:
  int64_t interval_ms_;
  std::optional<int64_t> next_ms_;
};

// Waits between attempts to reach Redis: `initial` seconds, doubling to `max`, each spread by
// ±20 % (random01 in [0, 1) from the caller); reset() once connected.
class ReconnectBackoff {
 public:
  ReconnectBackoff(double initial, double max) : initial_(initial), max_(max) {}
  double next(double random01);
  void reset() { attempts_ = 0; }
  int attempts() const { return attempts_; }

 private:
  double initial_, max_;
  int attempts_ = 0;
};

// One outage: down() is called on every failed attempt, up() on every success. down() returns
// true only for the first failure of an outage (log it), up() returns the outage's length in
// seconds only for the first success after one (log that too).
class Outage {
 public:
  bool down(int64_t now_ms, const std::string& reason);
  std::optional<double> up(int64_t now_ms);
  bool is_down() const { return since_ms_.has_value(); }
  const std::string& reason() const { return reason_; }

 private:
  std::optional<int64_t> since_ms_;
  std::string reason_;
};

}  // namespace lodestone
