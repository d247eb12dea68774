// The pipeline (queue → workers → store) over a real SQLite file, and its throttle.
#include "watch/pipeline.h"

#include <catch2/catch.hpp>

#include "support/rules.h"
#include "support/temp_store.h"
#include "util/clock.h"

using namespace lodestone;
using lodestone::testing::post;
using lodestone::testing::rules;
using lodestone::testing::TempStore;

namespace {

constexpr int64_t kHour = 3600 * 1000;

std::vector<Post> posts(const std::vector<std::pair<std::string, std::string>>& id_and_body) {
  std::vector<Post> out;
  for (const auto& [id, body] : id_and_body) out.push_back(post({{"body", body}}, id));
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

TEST_CASE("a post sent again with changed content is matched again and alerts each rule once", "[pipeline]") {
  TempStore store;
  Metrics metrics;
  PipelineOptions options;
  options.default_notifiers = {"a"};
  Pipeline pipeline(options, *store, metrics,
                    rules("[[rule]]\nid = \"tsmc\"\nmatch = \"台積電\"\n"
                          "[[rule]]\nid = \"tsmc-hot\"\nmatch = \"台積電 AND pushes:>=50\"\n"));
  pipeline.start();
  auto with_pushes = [](double pushes) {
    Post p = post({{"title", "[新聞] 台積電法說會"}}, "M.1", "ptt/Stock");
    p.set_number("pushes", pushes);
    return std::vector<Post>{p};
  };
  BatchReceipt first = run(pipeline, with_pushes(12));
  CHECK(first.new_posts == 1);
  CHECK(first.alerts == 1);  // tsmc
  // Unchanged: a duplicate, not matched.
  BatchReceipt same = run(pipeline, with_pushes(12));
  CHECK(same.new_posts == 0);
  CHECK(same.alerts == 0);
  // Past fifty pushes: matched again; tsmc-hot alerts, tsmc does not alert a second time.
  BatchReceipt hot = run(pipeline, with_pushes(55));
  CHECK(hot.committed);
  CHECK(hot.new_posts == 0);
  CHECK(hot.alerts == 1);
  // Changed again: both rules already alerted on this post.
  BatchReceipt hotter = run(pipeline, with_pushes(107));
  CHECK(hotter.alerts == 0);
  CHECK(count(*store, "a", DeliveryState::kPending) == 2);
  const std::string text = metrics.render({});
  CHECK(text.find("lodestone_posts_total{source=\"ptt/Stock\",outcome=\"new\"} 1") != std::string::npos);
  CHECK(text.find("lodestone_posts_total{source=\"ptt/Stock\",outcome=\"updated\"} 2") != std::string::npos);
  CHECK(text.find("lodestone_posts_total{source=\"ptt/Stock\",outcome=\"duplicate\"} 1") != std::string::npos);
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
