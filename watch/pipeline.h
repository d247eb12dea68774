// The pipeline: sources → a bounded queue → N worker threads (one Scanner each, one shared
// immutable RuleSet) → the store. Matching never waits on a notifier: dispatchers read the store.
// Thread-safe: sources submit from their threads; set_rules() from the reload thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "watch/metrics.h"
#include "watch/store.h"
#include "lodestone/rule_set.h"
#include "lodestone/source.h"

namespace lodestone {

struct PipelineOptions {
  size_t workers = 2;
  size_t queue_posts = 10000;  // posts waiting at most; a batch larger than this waits for an empty queue
  std::vector<std::string> default_notifiers;  // for alerts of rules that name none
};

// max_alerts_per_hour: per rule and clock hour, alerts past the limit are stored with their
// deliveries held; when the hour is over, one summary alert per rule says how many were held
// and goes to the rule's notifiers. Nothing is dropped: held alerts stay in the store.
class Throttle {
 public:
  // How many alerts of `rule` the store already holds for the hour starting at hour_start_ms:
  // asked once per rule when this process first sees it, so a restart within the hour goes on
  // counting (and holding) where the last run stopped. Unset: every count starts at 0.
  using Seed = std::function<int64_t(const std::string& rule, int64_t hour_start_ms)>;
  void set_seed(Seed seed) { seed_ = std::move(seed); }

  // Whether this alert of `rule` (limit `max_per_hour`, 0 for none) is to be held.
  bool hold(const std::string& rule, int64_t max_per_hour, int64_t now_ms);
  // Summary alerts for hours that have ended with something held, for `notifiers_of(rule)`.
  struct Summary {
    std::string rule;
    int64_t hour_start_ms = 0;
    int64_t held = 0;
    int64_t limit = 0;
  };
  std::vector<Summary> take_ended(int64_t now_ms);

 private:
  struct Window {
    int64_t hour = -1;
    int64_t count = 0;
    int64_t held = 0;
    int64_t limit = 0;
  };
  std::mutex mutex_;
  Seed seed_;
  std::map<std::string, Window> windows_;
  std::vector<Summary> ended_;
};

class Pipeline final : public PostSink {
 public:
  Pipeline(PipelineOptions options, Store& store, Metrics& metrics, std::shared_ptr<const RuleSet> rules);
  ~Pipeline() override;  // drain()s
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Called after each commit that stored an alert (the dispatchers' wake-up). Set before start().
  void set_on_alerts(std::function<void()> on_alerts) { on_alerts_ = std::move(on_alerts); }
  void start();

  // Swaps in a new rule set: batches taken after this use it; a batch in progress finishes with
  // the old one. Nothing is lost or matched twice across a swap.
  void set_rules(std::shared_ptr<const RuleSet> rules);
  std::shared_ptr<const RuleSet> rules() const;

  std::optional<std::future<BatchReceipt>> submit(std::vector<Post>& posts, WhenFull when) override;
  void count_rejected(std::string_view source, size_t count) override;

  // Refuses new batches, finishes every queued one, and joins the workers. Idempotent.
  void drain();
  size_t queue_depth() const;

  // Stores the summary alerts of throttle hours that have ended (call every few seconds).
  void flush_throttle(int64_t now_ms);

 private:
  struct Batch {
    std::vector<Post> posts;
    std::promise<BatchReceipt> done;
  };
  // A worker commits every batch waiting, up to this many posts, in one transaction.
  static constexpr size_t kGroupPosts = 4096;
  void work();
  std::vector<BatchReceipt> process(std::vector<Batch>& group, class WorkerState& state);

  PipelineOptions options_;
  Store& store_;
  Metrics& metrics_;
  std::function<void()> on_alerts_;
  Throttle throttle_;

  mutable std::mutex rules_mutex_;
  std::shared_ptr<const RuleSet> rules_;

  mutable std::mutex mutex_;
  std::condition_variable not_empty_, not_full_;
  std::deque<Batch> queue_;
  size_t queued_posts_ = 0;
  bool accepting_ = true;
  bool done_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace lodestone
