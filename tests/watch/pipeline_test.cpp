// The pipeline (queue → workers → store) over a real SQLite file, and its throttle; the
// dispatcher's schedule with a fake clock and a scripted notifier (the one place fakes belong:
// timing and retry logic).
#include "watch/pipeline.h"

#include <catch2/catch.hpp>

#include <filesystem>

#include "watch/dispatcher.h"

namespace fs = std::filesystem;
using namespace lodestone;

namespace {

constexpr int64_t kHour = 3600 * 1000;

class TempStore {
 public:
  TempStore() {
    static int n = 0;
    path_ = fs::temp_directory_path() / ("lodestone-pipeline-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
    fs::remove_all(path_);
    std::string error;
    store_ = Store::open((path_ / "state.db").string(), error);
    INFO(error);
    REQUIRE(store_);
  }
  ~TempStore() {
    store_.reset();
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  Store& operator*() { return *store_; }
  Store* operator->() { return store_.get(); }

 private:
  fs::path path_;
  std::unique_ptr<Store> store_;
};

std::shared_ptr<const RuleSet> rules(const std::string& toml) {
  auto loaded = load_rule_set_from_string(toml, "rules.toml");
  INFO(format_diagnostics(loaded.diagnostics));
  REQUIRE(loaded.rule_set);
  return loaded.rule_set;
}

std::vector<Post> posts(const std::vector<std::pair<std::string, std::string>>& id_and_body) {
  std::vector<Post> out;
  for (const auto& [id, body] : id_and_body) {
    Post p;
    p.id = id;
    p.source = "test";
    p.add_field("body", body);
    out.push_back(std::move(p));
  }
  return out;
}

uint64_t count(Store& store, const std::string& notifier, DeliveryState state) {
  for (const auto& c : store.delivery_counts()) {
    if (c.notifier == notifier && c.state == state) return c.count;
  }
  return 0;
}

BatchReceipt run(Pipeline& pipeline, std::vector<Post> batch) {
  auto future = pipeline.submit(batch, PostSink::WhenFull::kWait);
  REQUIRE(future);
  return future->get();
}

}  // namespace

TEST_CASE("a batch is matched, committed with one delivery per notifier, then acknowledged", "[pipeline]") {
  TempStore store;
  Metrics metrics;
  PipelineOptions options;
  options.default_notifiers = {"a", "b"};
  Pipeline pipeline(options, *store,
                    metrics,
                    rules("[[rule]]\nid = \"star\"\nmatch = \"lodestar\"\n"
                          "[[rule]]\nid = \"mine\"\nmatch = \"magnetite\"\nnotify = [\"b\"]\n"));
  int woken = 0;
  pipeline.set_on_alerts([&] { ++woken; });
  pipeline.start();
  auto receipt = run(pipeline, posts({{"1", "a lodestar"}, {"2", "nothing"}, {"3", "magnetite and lodestar"}}));
  CHECK(receipt.committed);
  CHECK(receipt.posts == 3);
  CHECK(receipt.new_posts == 3);
  CHECK(receipt.alerts == 3);
  CHECK(woken == 1);
  CHECK(count(*store, "a", DeliveryState::kPending) == 2);  // star ×2
  CHECK(count(*store, "b", DeliveryState::kPending) == 3);  // star ×2, mine (its own notify list)
  CHECK(store->seen({"test", "2"}));

  // The same posts again: seen, not matched, nothing new stored.
  receipt = run(pipeline, posts({{"1", "a lodestar"}, {"3", "magnetite and lodestar"}}));
  CHECK(receipt.committed);
  CHECK(receipt.new_posts == 0);
  CHECK(receipt.alerts == 0);
  CHECK(count(*store, "b", DeliveryState::kPending) == 3);
  CHECK(metrics.render({}).find("lodestone_posts_total{source=\"test\",outcome=\"duplicate\"} 2") != std::string::npos);
}

TEST_CASE("batches waiting together are committed together, each with its own receipt", "[pipeline]") {
  TempStore store;
  Metrics metrics;
  PipelineOptions options;
  options.workers = 1;
  options.default_notifiers = {"a"};
  Pipeline pipeline(options, *store, metrics, rules("[[rule]]\nid = \"star\"\nmatch = \"lodestar\"\n"));
  // Queued before the worker starts, so it takes them as one group: one post a batch (as the
  // HTTP source gives one request), every third alerting, and batch 7 repeating batch 6's post.
  std::vector<std::future<BatchReceipt>> futures;
  for (int i = 0; i < 30; ++i) {
    const std::string id = std::to_string(i == 7 ? 6 : i);
    auto batch = posts({{id, i % 3 == 0 || i == 7 ? "a lodestar" : "nothing"}});
    auto f = pipeline.submit(batch, PostSink::WhenFull::kRefuse);
    REQUIRE(f);
    futures.push_back(std::move(*f));
  }
  pipeline.start();
  size_t alerts = 0;
  for (int i = 0; i < 30; ++i) {
    INFO("batch " << i);
    const BatchReceipt r = futures[static_cast<size_t>(i)].get();
    CHECK(r.committed);
    CHECK(r.posts == 1);
    // Batch 7 holds the post of batch 6: matched in the same group, but stored once.
    CHECK(r.new_posts == (i == 7 ? 0u : 1u));
    CHECK(r.alerts == (i % 3 == 0 ? 1u : 0u));
    alerts += r.alerts;
  }
  CHECK(alerts == 10);
  CHECK(count(*store, "a", DeliveryState::kPending) == 10);
  CHECK(store->seen({"test", "29"}));
}

TEST_CASE("a full queue refuses or makes the source wait, and a batch larger than the queue still goes in alone",
          "[pipeline]") {
  TempStore store;
  Metrics metrics;
  PipelineOptions options;
  options.queue_posts = 2;
  Pipeline pipeline(options, *store, metrics, rules("[[rule]]\nid = \"star\"\nmatch = \"lodestar\"\n"));
  // Not started yet: nothing leaves the queue.
  auto first = posts({{"1", "lodestar"}, {"2", "lodestar"}});
  auto f1 = pipeline.submit(first, PostSink::WhenFull::kRefuse);
  REQUIRE(f1);
  CHECK(first.empty());  // taken
  auto second = posts({{"3", "lodestar"}});
  CHECK_FALSE(pipeline.submit(second, PostSink::WhenFull::kRefuse));
  CHECK(second.size() == 1);  // left with the caller
  CHECK(pipeline.queue_depth() == 2);
  pipeline.start();
  CHECK(f1->get().committed);
  auto big = posts({{"4", "x"}, {"5", "x"}, {"6", "x"}, {"7", "lodestar"}});
  CHECK(run(pipeline, std::move(big)).posts == 4);
  // After drain() nothing is accepted, not even by a waiting source.
  pipeline.drain();
  CHECK_FALSE(pipeline.submit(second, PostSink::WhenFull::kWait));
}

TEST_CASE("a new rule set applies from the next batch on", "[pipeline]") {
  TempStore store;
  Metrics metrics;
  PipelineOptions options;
  options.default_notifiers = {"a"};
  Pipeline pipeline(options, *store, metrics, rules("[[rule]]\nid = \"star\"\nmatch = \"lodestar\"\n"));
  pipeline.start();
  CHECK(run(pipeline, posts({{"1", "compass"}})).alerts == 0);
  pipeline.set_rules(rules("[[rule]]\nid = \"compass\"\nmatch = \"compass\"\n"));
  CHECK(run(pipeline, posts({{"2", "compass"}})).alerts == 1);
  // A post seen under the old rules is not matched again under the new ones.
  CHECK(run(pipeline, posts({{"1", "compass"}})).alerts == 0);
}

TEST_CASE("the throttle holds alerts past the hourly limit and sums each ended hour up once", "[pipeline][throttle]") {
  Throttle throttle;
  const int64_t t = 1000 * kHour + 10;
  CHECK_FALSE(throttle.hold("r", 2, t));
  CHECK_FALSE(throttle.hold("r", 2, t + 1));
  CHECK(throttle.hold("r", 2, t + 2));
  CHECK(throttle.hold("r", 2, t + 3));
  CHECK_FALSE(throttle.hold("other", 0, t));  // no limit
  CHECK(throttle.take_ended(t + 4).empty());   // the hour is not over
  auto ended = throttle.take_ended(t + kHour);
  REQUIRE(ended.size() == 1);
  CHECK(ended[0].rule == "r");
  CHECK(ended[0].held == 2);
  CHECK(ended[0].limit == 2);
  CHECK(ended[0].hour_start_ms == 1000 * kHour);
  CHECK(throttle.take_ended(t + kHour + 1).empty());  // once
  CHECK_FALSE(throttle.hold("r", 2, t + kHour));      // a new hour, a new count
}

TEST_CASE("held alerts are stored, never due, and summed up in one summary alert when the hour ends",
          "[pipeline][throttle]") {
  TempStore store;
  Metrics metrics;
  PipelineOptions options;
  options.default_notifiers = {"a"};
  Pipeline pipeline(options, *store, metrics,
                    rules("[[rule]]\nid = \"star\"\nmatch = \"lodestar\"\nmax_alerts_per_hour = 2\n"));
  pipeline.start();
  CHECK(run(pipeline, posts({{"1", "lodestar"}, {"2", "lodestar"}, {"3", "lodestar"}, {"4", "lodestar"}})).alerts == 4);
  CHECK(count(*store, "a", DeliveryState::kPending) == 2);
  CHECK(count(*store, "a", DeliveryState::kHeld) == 2);
  CHECK(metrics.render({}).find("lodestone_alerts_held_total{rule=\"star\"} 2") != std::string::npos);
  const int64_t later = system_now_ms() + kHour;
  pipeline.flush_throttle(later);
  CHECK(count(*store, "a", DeliveryState::kPending) == 3);
  auto due = store->due("a", later, 10);
  bool summary = false;
  for (const auto& d : due) {
    if (d.json.find("\"source\":\"lodestone\"") != std::string::npos) {
      summary = true;
      CHECK(d.json.find("2 more alerts of rule star held back") != std::string::npos);
    }
  }
  CHECK(summary);
}

namespace {

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

NewAlert alert(const std::string& id) {
  return {id, "r", "test", id, R"({"id":")" + id + R"(","rule":{"id":"r"},"post":{"id":")" + id + R"("}})", {"n"}, false};
}

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

TEST_CASE("a restart within the hour goes on counting toward max_alerts_per_hour", "[pipeline][throttle]") {
  TempStore store;
  Metrics metrics;
  PipelineOptions options;
  options.default_notifiers = {"a"};
  const auto limited = rules("[[rule]]\nid = \"star\"\nmatch = \"lodestar\"\nmax_alerts_per_hour = 2\n");
  {
    Pipeline first(options, *store, metrics, limited);
    first.start();
    CHECK(run(first, posts({{"1", "lodestar"}})).alerts == 1);
  }
  // A new process (a new Pipeline) in the same hour: one more is allowed, then held.
  Pipeline second(options, *store, metrics, limited);
  second.start();
  CHECK(run(second, posts({{"2", "lodestar"}, {"3", "lodestar"}})).alerts == 2);
  CHECK(count(*store, "a", DeliveryState::kPending) == 2);
  CHECK(count(*store, "a", DeliveryState::kHeld) == 1);
}
