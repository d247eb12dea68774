// Metrics: the watcher's counters, rendered as Prometheus text for /metrics. Every method is
// thread-safe (one mutex; calls are per batch or per delivery, not per pattern hit).
#pragma once

#include <array>
#include <tuple>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "lodestone/source.h"

namespace lodestone {

class Metrics {
 public:
  // Posts by source (the post's own, else its source's name) and outcome: "new", "duplicate"
  // (its key was seen before), "rejected" (unreadable).
  void add_posts(const std::string& source, const std::string& outcome, uint64_t n);
  void add_alert(const std::string& rule, bool held);
  // One delivery attempt's outcome: "delivered", "retry", "dead".
  void add_delivery(const std::string& notifier, const std::string& outcome);
  void observe_scan_seconds(double seconds);
  void add_store_error();
  void set_rules(uint64_t rules, bool last_reload_ok, const std::string& last_error);
  void add_reload(bool ok);

  struct Gauges {
    uint64_t queue_depth = 0;
    std::vector<std::tuple<std::string, std::string, uint64_t>> deliveries_by_state;  // notifier, state, n
    // source, and "running", "finished", "down: <reason>" (running but unable to work) or the
    // error it stopped on; only "running" counts as up.
    std::vector<std::pair<std::string, std::string>> source_states;
    std::vector<MetricSample> extra;  // the sources' own series (Source::collect_metrics)
  };
  // The Prometheus text exposition (version 0.0.4) of every counter plus `gauges`.
  std::string render(const Gauges& gauges) const;

  bool last_reload_ok() const;
  std::string last_reload_error() const;
  uint64_t rules_loaded() const;

  static constexpr size_t kMaxSources = 1000;
  static constexpr std::array<double, 10> kScanBuckets = {1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 1};

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, uint64_t> posts_;
  std::set<std::string> sources_;
  std::map<std::string, uint64_t> alerts_, held_;
  std::map<std::pair<std::string, std::string>, uint64_t> deliveries_;
  std::array<uint64_t, kScanBuckets.size()> scan_buckets_{};
  uint64_t scan_count_ = 0;
  double scan_sum_ = 0;
  uint64_t store_errors_ = 0;
  uint64_t rules_ = 0;
  bool last_reload_ok_ = true;
  std::string last_reload_error_;
  uint64_t reloads_ok_ = 0, reloads_failed_ = 0;
};

}  // namespace lodestone
