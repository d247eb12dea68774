// The dispatcher: one thread per notifier, taking that notifier's due deliveries from the store,
// sending them, and recording each outcome with the retry schedule. A slow or dead endpoint holds
// back only its own dispatcher. start/wake/stop from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "util/clock.h"
#include "watch/metrics.h"
#include "watch/retry.h"
#include "watch/store.h"
#include "lodestone/notifier.h"

namespace lodestone {

// Time for the dispatcher: wall-clock milliseconds, replaceable in tests.
using ClockMs = std::function<int64_t()>;

class Dispatcher {
 public:
  Dispatcher(Notifier& notifier, Store& store, Metrics& metrics, RetryPolicy policy, ClockMs clock = system_now_ms);
  ~Dispatcher();  // stop(0)
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void start();
  // New deliveries may be due: look now rather than at the next known due time.
  void wake();
  // Takes no new delivery; waits up to `deadline` seconds for the one in flight, then cancels it
  // (it stays pending in the store, due again at the next start) and joins.
  void stop(double deadline);

  // Sends what is due now, once, on the caller's thread; returns how many attempts it made.
  // (The thread's loop body; tests call it with a fake clock.)
  size_t run_once();

 private:
  class Busy;
  void loop();
  void record(const DueDelivery& due, const DeliveryAttempt& attempt, int64_t now);

  Notifier& notifier_;
  Store& store_;
  Metrics& metrics_;
  RetryPolicy policy_;
  ClockMs clock_;
  std::mt19937_64 random_;

  std::mutex mutex_;
  std::condition_variable cv_;
  bool woken_ = false;
  std::atomic<bool> stopping_{false};
  bool idle_ = true;  // no send() in flight
  std::condition_variable idle_cv_;
  int64_t next_digest_ms_ = 0;
  std::thread thread_;
};

}  // namespace lodestone
