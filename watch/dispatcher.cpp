// The dispatcher loop: due deliveries → Notifier::send → mark_delivered / mark_retry / mark_dead.
#include "watch/dispatcher.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>

namespace lodestone {
namespace {
constexpr size_t kBatch = 64;
constexpr int64_t kIdleCheckMs = 5000;  // look again at least this often (another process may add rows)
}  // namespace

Dispatcher::Dispatcher(Notifier& notifier, Store& store, Metrics& metrics, RetryPolicy policy, ClockMs clock)
    : notifier_(notifier),
      store_(store),
      metrics_(metrics),
      policy_(policy),
      clock_(std::move(clock)),
      random_(std::random_device{}()) {}

Dispatcher::~Dispatcher() { stop(0); }

void Dispatcher::start() {
  thread_ = std::thread([this] { loop(); });
}

void Dispatcher::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  cv_.notify_all();
}

void Dispatcher::stop(double deadline) {
  {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    cv_.notify_all();
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(std::max(0.0, deadline));
    if (!idle_cv_.wait_until(lock, until, [&] { return idle_; })) {
      spdlog::warn("{}: a delivery is still in flight after {} s; cancelling it (it stays pending for the next start)",
                   notifier_.name(), deadline);
      notifier_.cancel();
    }
  }
  if (thread_.joinable()) thread_.join();
}

void Dispatcher::record(const DueDelivery& due, const DeliveryAttempt& attempt, int64_t now) {
  const std::string& name = notifier_.name();
  using Outcome = DeliveryAttempt::Outcome;
  if (attempt.outcome == Outcome::kDelivered) {
    store_.mark_delivered(due.alert_id, name, attempt.status, now);
    metrics_.add_delivery(name, "delivered");
    return;
  }
  const int attempts = static_cast<int>(due.attempts) + 1;
  const double first = static_cast<double>(due.first_attempt_ms.value_or(now)) / 1000;
  std::optional<double> next;
  if (stopping_ && attempt.outcome == Outcome::kRetry) {
    next = static_cast<double>(now) / 1000;  // cut short by shutdown: due again at the next start
  } else {
    next = next_attempt_at(policy_, attempts, first, static_cast<double>(now) / 1000, attempt,
                           std::uniform_real_distribution<double>(0, 1)(random_));
  }
  if (next) {
    store_.mark_retry(due.alert_id, name, attempt.status, attempt.error,
                      static_cast<int64_t>(std::llround(*next * 1000)), now);
    metrics_.add_delivery(name, "retry");
    spdlog::warn("{}: alert {} attempt {} failed: {}; next attempt in {:.1f} s", name, due.alert_id, attempts,
                 attempt.error, *next - static_cast<double>(now) / 1000);
  } else {
    const std::string why = attempt.outcome == Outcome::kDead
                                ? attempt.error
                                : "gave up after " + std::to_string(attempts) + " attempts: " + attempt.error;
    store_.mark_dead(due.alert_id, name, attempt.status, why, now);
    metrics_.add_delivery(name, "dead");
    spdlog::error("{}: alert {} is dead: {}", name, due.alert_id, why);
  }
}

// Marks a send in flight for stop(), which waits for it; cleared however the send ends, a
// StoreError from recording its outcome included.
class Dispatcher::Busy {
 public:
  explicit Busy(Dispatcher& d) : d_(d) {
    std::lock_guard lock(d_.mutex_);
    d_.idle_ = false;
  }
  ~Busy() {
    {
      std::lock_guard lock(d_.mutex_);
      d_.idle_ = true;
    }
    d_.idle_cv_.notify_all();
  }
  Busy(const Busy&) = delete;
  Busy& operator=(const Busy&) = delete;

 private:
  Dispatcher& d_;
};

size_t Dispatcher::run_once() {
  const std::string& name = notifier_.name();
  int64_t now = clock_();
  const double digest = notifier_.digest_interval();
  if (digest > 0) {
    if (now < next_digest_ms_) return 0;
    // Every due alert in one message.
    auto due = store_.due(name, now, 10000);
    if (due.empty()) return 0;
    std::vector<Alert> alerts;
    std::vector<std::string> jsons;
    std::vector<DueDelivery> kept;
    for (auto& d : due) {
      Result<Alert> alert = alert_from_json(d.json);
      if (!alert) {
        record(d, {DeliveryAttempt::Outcome::kDead, 0, "stored alert unreadable: " + alert.error(), -1}, now);
        continue;
      }
      alerts.push_back(std::move(*alert));
      jsons.push_back(d.json);
      kept.push_back(std::move(d));
    }
    if (kept.empty()) return 0;
    Busy busy(*this);
    const DeliveryAttempt attempt = notifier_.send_digest(alerts, jsons);
    now = clock_();
    for (const auto& d : kept) record(d, attempt, now);
    next_digest_ms_ = now + static_cast<int64_t>(digest * 1000);
    return 1;
  }
  auto due = store_.due(name, now, kBatch);
  size_t attempts = 0;
  for (const auto& d : due) {
    if (stopping_) break;
    Busy busy(*this);
    Result<Alert> alert = alert_from_json(d.json);
    DeliveryAttempt attempt =
        alert ? notifier_.send(*alert, d.json)
              : DeliveryAttempt{DeliveryAttempt::Outcome::kDead, 0, "stored alert unreadable: " + alert.error(), -1};
    record(d, attempt, clock_());
    ++attempts;
  }
  return attempts;
}

void Dispatcher::loop() {
  while (!stopping_) {
    size_t attempts = 0;
    try {
      attempts = run_once();
    } catch (const StoreError& e) {
      spdlog::error("{}: store: {}; trying again shortly", notifier_.name(), e.what());
    }
    if (attempts > 0 && notifier_.digest_interval() <= 0) continue;  // more may be due already
    int64_t wait_ms = kIdleCheckMs;
    try {
      const int64_t now = clock_();
      const int64_t next = store_.next_due_ms(notifier_.name());
      if (next >= 0) wait_ms = std::clamp<int64_t>(next - now, 0, kIdleCheckMs);
      if (notifier_.digest_interval() > 0 && next_digest_ms_ > now) {
        wait_ms = std::max(wait_ms, std::min<int64_t>(next_digest_ms_ - now, kIdleCheckMs));
      }
    } catch (const StoreError&) {
    }
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] { return woken_ || stopping_.load(); });
    woken_ = false;
  }
}

}  // namespace lodestone
