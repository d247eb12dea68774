// The pipeline: the bounded queue, the workers, the throttle.
#include "watch/pipeline.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <unordered_map>

#include "util/clock.h"
#include "lodestone/scanner.h"

namespace lodestone {
namespace {

constexpr int64_t kHourMs = 3600 * 1000;

}  // namespace

bool Throttle::hold(const std::string& rule, int64_t max_per_hour, int64_t now) {
  if (max_per_hour <= 0) return false;
  std::lock_guard lock(mutex_);
  auto [it, first_seen] = windows_.try_emplace(rule);
  Window& w = it->second;
  const int64_t hour = now / kHourMs;
  if (w.hour != hour) {
    if (w.held > 0) ended_.push_back({rule, w.hour * kHourMs, w.held, w.limit});
    w = Window{hour, 0, 0, max_per_hour};
    if (first_seen && seed_) {
      // Alerts an earlier run stored this hour: past the limit, they were held then.
      w.count = seed_(rule, hour * kHourMs);
      w.held = std::max<int64_t>(0, w.count - max_per_hour);
    }
  }
  w.limit = max_per_hour;
  if (++w.count <= max_per_hour) return false;
  ++w.held;
  return true;
}

std::vector<Throttle::Summary> Throttle::take_ended(int64_t now) {
  std::lock_guard lock(mutex_);
  const int64_t hour = now / kHourMs;
  for (auto& [rule, w] : windows_) {
    if (w.hour != hour && w.held > 0) {
      ended_.push_back({rule, w.hour * kHourMs, w.held, w.limit});
      w.held = 0;
    }
  }
  return std::exchange(ended_, {});
}

// What one worker keeps between batches: its Scanner, for the rule set it was made for.
class WorkerState {
 public:
  std::shared_ptr<const RuleSet> rules;
  std::unique_ptr<Scanner> scanner;
  std::unordered_map<std::string, const RuleInfo*> rule_by_id;

  void use(std::shared_ptr<const RuleSet> next) {
    if (next == rules) return;
    rules = std::move(next);
    scanner = std::make_unique<Scanner>(rules);
    rule_by_id.clear();
    for (size_t i = 0; i < rules->rule_count(); ++i) rule_by_id[rules->rule(i).id] = &rules->rule(i);
  }
};

Pipeline::Pipeline(PipelineOptions options, Store& store, Metrics& metrics, std::shared_ptr<const RuleSet> rules)
    : options_(std::move(options)), store_(store), metrics_(metrics), rules_(std::move(rules)) {
  if (options_.workers == 0) options_.workers = 1;
  if (options_.queue_posts == 0) options_.queue_posts = 1;
  throttle_.set_seed([this](const std::string& rule, int64_t hour_start_ms) {
    int64_t n = 0;
    try {
      for (const auto& c : store_.alert_counts(hour_start_ms, 1000000)) {
        if (c.rule_id == rule && c.hour_ms == hour_start_ms) n += static_cast<int64_t>(c.count);
      }
    } catch (const StoreError& e) {
      spdlog::warn("throttle: cannot count rule {}'s alerts of this hour: {}", rule, e.what());
    }
    return n;
  });
}

Pipeline::~Pipeline() { drain(); }

void Pipeline::start() {
  for (size_t i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { work(); });
}

void Pipeline::set_rules(std::shared_ptr<const RuleSet> rules) {
  std::lock_guard lock(rules_mutex_);
  rules_ = std::move(rules);
}

std::shared_ptr<const RuleSet> Pipeline::rules() const {
  std::lock_guard lock(rules_mutex_);
  return rules_;
}

std::optional<std::future<BatchReceipt>> Pipeline::submit(std::vector<Post>& posts, WhenFull when) {
  std::unique_lock lock(mutex_);
  // A batch larger than the queue goes in alone, when the queue is empty.
  auto room = [&] { return queued_posts_ == 0 || queued_posts_ + posts.size() <= options_.queue_posts; };
  if (when == WhenFull::kRefuse) {
    if (!accepting_ || !room()) return std::nullopt;
  } else {
    not_full_.wait(lock, [&] { return !accepting_ || room(); });
    if (!accepting_) return std::nullopt;
  }
  Batch batch;
  batch.posts = std::move(posts);
  posts.clear();
  auto future = batch.done.get_future();
  queued_posts_ += batch.posts.size();
  queue_.push_back(std::move(batch));
  not_empty_.notify_one();
  return future;
}

void Pipeline::count_rejected(std::string_view source, size_t count) {
  metrics_.add_posts(std::string(source), "rejected", count);
}

size_t Pipeline::queue_depth() const {
  std::lock_guard lock(mutex_);
  return queued_posts_;
}

void Pipeline::drain() {
  {
    std::lock_guard lock(mutex_);
    accepting_ = false;
    done_ = true;  // workers leave once the queue is empty
  }
  not_full_.notify_all();
  not_empty_.notify_all();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

void Pipeline::work() {
  WorkerState state;
  std::vector<Batch> group;
  for (;;) {
    group.clear();
    size_t n = 0;
    {
      std::unique_lock lock(mutex_);
      not_empty_.wait(lock, [&] { return !queue_.empty() || done_; });
      if (queue_.empty()) return;
      // Group commit: every batch waiting (up to kGroupPosts posts) is matched and committed in
      // one transaction, one fsync. Many small batches (one HTTP request a post) would otherwise
      // pay one fsync each, and the store's lock would be held for little else.
      do {
        n += queue_.front().posts.size();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      } while (!queue_.empty() && n + queue_.front().posts.size() <= kGroupPosts);
    }
    std::vector<BatchReceipt> receipts = process(group, state);
    {
      std::lock_guard lock(mutex_);
      queued_posts_ -= n;
    }
    not_full_.notify_all();
    for (size_t i = 0; i < group.size(); ++i) group[i].done.set_value(std::move(receipts[i]));
  }
}

std::vector<BatchReceipt> Pipeline::process(std::vector<Batch>& group, WorkerState& state) {
  std::vector<BatchReceipt> receipts(group.size());
  state.use(rules());
  std::vector<PostKey> keys;
  std::vector<NewAlert> alerts;
  std::vector<size_t> alert_batch;                                 // the batch of each alert
  std::vector<std::string> alert_rules;                            // rule of each alert, for metrics after the commit
  struct PostCounts {
    uint64_t fresh = 0, updated = 0, duplicate = 0;
  };
  std::map<std::string, PostCounts> by_source;
  const int64_t now = system_now_ms();
  size_t inserted = 0;
  try {
    for (const Batch& batch : group) {
      for (const Post& post : batch.posts) keys.push_back({post.source, post.id, content_hash(post)});
    }
    // A post seen before with the same content is not matched again: a re-polled feed or a
    // replayed file never alerts twice, even when the rules changed in between. A post whose
    // content changed (an edit, a push count that grew) is matched again; an alert it raised
    // before has the same id, which the store keeps once. Two copies within one group are both
    // matched, with the same effect.
    const std::vector<PostSeen> seen = store_.seen_all(keys);
    size_t k = 0;
    for (size_t b = 0; b < group.size(); ++b) {
      receipts[b].posts = group[b].posts.size();
      for (const Post& post : group[b].posts) {
        const PostSeen was = seen[k++];
        if (was == PostSeen::kSame) {
          ++by_source[post.source].duplicate;
          continue;
        }
        ++(was == PostSeen::kNew ? by_source[post.source].fresh : by_source[post.source].updated);
        const auto t0 = std::chrono::steady_clock::now();
        auto found = state.scanner->scan(post);
        metrics_.observe_scan_seconds(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        for (const Alert& alert : found) {
          NewAlert a;
          a.id = alert.id;
          a.rule_id = alert.rule.id;
          a.source = post.source;
          a.post_id = post.id;
          a.json = to_json(alert);
          auto it = state.rule_by_id.find(alert.rule.id);
          const RuleInfo* rule = it == state.rule_by_id.end() ? nullptr : it->second;
          a.notifiers = !rule || rule->notify.empty() ? options_.default_notifiers : rule->notify;
          const int64_t limit = rule ? rule->max_alerts_per_hour : 0;
          a.held = throttle_.hold(alert.rule.id, limit, now);
          alert_rules.push_back(alert.rule.id);
          alerts.push_back(std::move(a));
          alert_batch.push_back(b);
        }
      }
    }
    const CommitResult result = store_.commit(keys, alerts, now);
    inserted = result.alerts_inserted;
    k = 0;
    for (size_t b = 0; b < group.size(); ++b) {
      receipts[b].committed = true;
      for (size_t i = 0; i < group[b].posts.size(); ++i) receipts[b].new_posts += result.post_is_new[k++] ? 1 : 0;
    }
    for (size_t i = 0; i < alerts.size(); ++i) receipts[alert_batch[i]].alerts += result.alert_inserted[i] ? 1 : 0;
  } catch (const StoreError& e) {
    metrics_.add_store_error();
    spdlog::error("store: {} ({} posts not committed; their source will offer them again)", e.what(), keys.size());
    for (auto& r : receipts) {
      r.committed = false;
      r.new_posts = r.alerts = 0;
      r.error = e.what();
    }
    return receipts;
  }
  for (const auto& [source, counts] : by_source) {
    if (counts.fresh) metrics_.add_posts(source, "new", counts.fresh);
    if (counts.updated) metrics_.add_posts(source, "updated", counts.updated);
    if (counts.duplicate) metrics_.add_posts(source, "duplicate", counts.duplicate);
  }
  for (size_t i = 0; i < alerts.size(); ++i) metrics_.add_alert(alert_rules[i], alerts[i].held);
  if (inserted > 0 && on_alerts_) on_alerts_();
  return receipts;
}

void Pipeline::flush_throttle(int64_t now) {
  auto ended = throttle_.take_ended(now);
  if (ended.empty()) return;
  const auto rules = this->rules();
  std::vector<NewAlert> summaries;
  for (const auto& s : ended) {
    Alert alert;
    alert.rule.id = s.rule;
    alert.rule.severity = "info";
    std::vector<std::string> notifiers = options_.default_notifiers;
    if (const RuleInfo* rule = rules->find_rule(s.rule)) {
      alert.rule.title = rule->title;
      alert.rule.severity = rule->severity;
      alert.rule.tags = rule->tags;
      if (!rule->notify.empty()) notifiers = rule->notify;
    }
    alert.post.source = "lodestone";
    alert.post.id = "held/" + s.rule + "/" + rfc3339_utc(s.hour_start_ms / 1000);
    alert.post.title = std::to_string(s.held) + " more alert" + (s.held == 1 ? "" : "s") + " of rule " + s.rule +
                       " held back between " + rfc3339_utc(s.hour_start_ms / 1000) + " and " +
                       rfc3339_utc((s.hour_start_ms + kHourMs) / 1000) +
                       " (max_alerts_per_hour = " + std::to_string(s.limit) +
                       "); they are in the store with state 'held'";
    alert.id = alert_id(alert.rule.id, alert.post.source, alert.post.id);
    alert.matched_at = rfc3339_utc(now / 1000);
    summaries.push_back({alert.id, alert.rule.id, alert.post.source, alert.post.id, to_json(alert), notifiers, false});
    spdlog::warn("{}", alert.post.title);
  }
  try {
    store_.commit({}, summaries, now);
    if (on_alerts_) on_alerts_();
  } catch (const StoreError& e) {
    metrics_.add_store_error();
    spdlog::error("store: {} (throttle summaries not stored)", e.what());
  }
}

}  // namespace lodestone
