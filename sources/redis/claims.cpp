// The redis source's decisions: verdicts, the janitor's schedule, backoff and outages.
#include "sources/redis/claims.h"

#include <algorithm>
#include <cmath>

namespace lodestone {

EntryVerdict verdict(int64_t deliveries, int64_t max_deliveries) {
  return deliveries > max_deliveries ? EntryVerdict::kDeadLetter : EntryVerdict::kProcess;
}

bool JanitorSchedule::due(int64_t now_ms) {
  if (next_ms_ && now_ms < *next_ms_) return false;
  next_ms_ = now_ms + interval_ms_;
  return true;
}

int64_t JanitorSchedule::wait_ms(int64_t now_ms) const {
  return next_ms_ ? std::max<int64_t>(0, *next_ms_ - now_ms) : 0;
}

double ReconnectBackoff::next(double random01) {
  const double base = std::min(max_, initial_ * std::pow(2.0, std::min(attempts_, 30)));
  ++attempts_;
  const double r = std::clamp(random01, 0.0, 1.0);
  return std::min(max_, base * (1 + 0.2 * (2 * r - 1)));
}

bool Outage::down(int64_t now_ms, const std::string& reason) {
  reason_ = reason;
  if (since_ms_) return false;
  since_ms_ = now_ms;
  return true;
}

std::optional<double> Outage::up(int64_t now_ms) {
  if (!since_ms_) return std::nullopt;
  const double seconds = static_cast<double>(now_ms - *since_ms_) / 1000.0;
  since_ms_.reset();
  reason_.clear();
  return seconds;
}

}  // namespace lodestone
