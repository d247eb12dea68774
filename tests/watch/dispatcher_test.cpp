// The dispatcher's schedule over a real SQLite store, with a fake clock and a scripted notifier
// (the one place fakes belong: timing and retry logic).
#include "watch/dispatcher.h"

#include <catch2/catch.hpp>

#include <span>
#include <string>
#include <vector>

#include "support/stored_alert.h"
#include "support/temp_store.h"

using namespace lodestone;
using lodestone::testing::stored_alert;
using lodestone::testing::TempStore;

namespace {

constexpr int64_t kHour = 3600 * 1000;

uint64_t count(Store& store, const std::string& notifier, DeliveryState state) {
  for (const auto& c : store.delivery_counts()) {
    if (c.notifier == notifier && c.state == state) return c.count;
  }
  return 0;
}

// A notifier that answers as the test scripts it, and records what it was given.
class ScriptedNotifier : public Notifier {
 public:
  explicit ScriptedNotifier(std::vector<DeliveryAttempt> answers, double digest = 0)
      : answers_(std::move(answers)), digest_(digest) {}
  const std::string& name() const override { return name_; }
  DeliveryAttempt send(const Alert& alert, const std::string&) override {
    sent.push_back(alert.id);
    return next();
  }
  double digest_interval() const override { return digest_; }
  DeliveryAttempt send_digest(std::span<const Alert> alerts, std::span<const std::string>) override {
    digests.push_back(alerts.size());
    return next();
  }
  std::vector<std::string> sent;
  std::vector<size_t> digests;

 private:
  DeliveryAttempt next() {
    if (answers_.empty()) return {DeliveryAttempt::Outcome::kDelivered, 200, {}, -1};
    DeliveryAttempt a = answers_.front();
    answers_.erase(answers_.begin());
    return a;
  }
  std::string name_ = "n";
  std::vector<DeliveryAttempt> answers_;
  double digest_;
};

// The sample alert `id`, due for the scripted notifier.
NewAlert alert(const std::string& id) { return stored_alert(id, {"n"}); }

const DeliveryAttempt kUnavailable{DeliveryAttempt::Outcome::kRetry, 503, "HTTP 503", -1};

}  // namespace

TEST_CASE("the dispatcher retries on the backoff schedule, honours Retry-After and gives up at max_attempts",
          "[dispatcher]") {
  TempStore store;
  Metrics metrics;
  int64_t now = 1'000'000;
  ScriptedNotifier notifier({kUnavailable, {DeliveryAttempt::Outcome::kRetry, 429, "HTTP 429", 30}, kUnavailable});
  RetryPolicy policy;
  policy.max_attempts = 3;
  policy.initial_backoff = 2;
  policy.jitter = 0;
  Dispatcher dispatcher(notifier, *store, metrics, policy, [&] { return now; });
  store->commit({}, {alert("x")}, now);

  CHECK(dispatcher.run_once() == 1);  // attempt 1: 503, next in 2 s
  CHECK(store->next_due_ms("n") == now + 2000);
  now += 1999;
  CHECK(dispatcher.run_once() == 0);  // not due yet
  now += 1;
  CHECK(dispatcher.run_once() == 1);  // attempt 2: 429 with Retry-After: 30 beats the 4 s backoff
  CHECK(store->next_due_ms("n") == now + 30000);
  now += 30000;
  CHECK(dispatcher.run_once() == 1);  // attempt 3: 503, and max_attempts is reached
  CHECK(store->next_due_ms("n") == -1);
  CHECK(count(*store, "n", DeliveryState::kDead) == 1);
  CHECK(notifier.sent == std::vector<std::string>{"x", "x", "x"});
}

TEST_CASE("a dead answer is not retried and a delivered one is not sent again", "[dispatcher]") {
  TempStore store;
  Metrics metrics;
  int64_t now = 5'000'000;
  ScriptedNotifier notifier({{DeliveryAttempt::Outcome::kDead, 400, "HTTP 400", -1}});
  Dispatcher dispatcher(notifier, *store, metrics, RetryPolicy{}, [&] { return now; });
  store->commit({}, {alert("dead"), alert("fine")}, now);
  CHECK(dispatcher.run_once() == 2);
  now += 24 * kHour;
  CHECK(dispatcher.run_once() == 0);
  CHECK(count(*store, "n", DeliveryState::kDead) == 1);
  CHECK(count(*store, "n", DeliveryState::kDelivered) == 1);
}

TEST_CASE("a digest notifier gets every due alert in one message, at most once per interval", "[dispatcher]") {
  TempStore store;
  Metrics metrics;
  int64_t now = 9'000'000;
  ScriptedNotifier notifier({}, 3600);
  Dispatcher dispatcher(notifier, *store, metrics, RetryPolicy{}, [&] { return now; });
  store->commit({}, {alert("a"), alert("b"), alert("c")}, now);
  CHECK(dispatcher.run_once() == 1);
  store->commit({}, {alert("d")}, now);
  now += 60 * 1000;
  CHECK(dispatcher.run_once() == 0);  // the interval has not passed
  now += kHour;
  CHECK(dispatcher.run_once() == 1);
  CHECK(notifier.digests == std::vector<size_t>{3, 1});
  CHECK(count(*store, "n", DeliveryState::kDelivered) == 4);
}

