// Prometheus text rendering of the watcher's counters.
#include "watch/metrics.h"

#include <algorithm>
#include <cstdio>

namespace lodestone {
namespace {

// A label value with \, " and line breaks escaped, as the exposition format asks.
std::string label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void head(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

void Metrics::add_posts(const std::string& source, const std::string& outcome, uint64_t n) {
  std::lock_guard lock(mutex_);
  // Posts may name their own source (an HTTP push, a JSONL line), so the label's values are
  // capped: past kMaxSources distinct ones, the rest count as "other".
  auto key = std::make_pair(source, outcome);
  if (!posts_.count(key) && !sources_.count(source)) {
    if (sources_.size() >= kMaxSources) {
      key.first = "other";
    } else {
      sources_.insert(source);
    }
  }
  posts_[key] += n;
}
void Metrics::add_alert(const std::string& rule, bool held) {
  std::lock_guard lock(mutex_);
  ++alerts_[rule];
  if (held) ++held_[rule];
}
void Metrics::add_delivery(const std::string& notifier, const std::string& outcome) {
  std::lock_guard lock(mutex_);
  ++deliveries_[{notifier, outcome}];
}
void Metrics::observe_scan_seconds(double seconds) {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < kScanBuckets.size(); ++i) {
    if (seconds <= kScanBuckets[i]) ++scan_buckets_[i];
  }
  ++scan_count_;
  scan_sum_ += seconds;
}
void Metrics::add_store_error() {
  std::lock_guard lock(mutex_);
  ++store_errors_;
}
void Metrics::set_rules(uint64_t rules, bool last_reload_ok, const std::string& last_error) {
  std::lock_guard lock(mutex_);
  rules_ = rules;
  last_reload_ok_ = last_reload_ok;
  last_reload_error_ = last_error;
}
void Metrics::add_reload(bool ok) {
  std::lock_guard lock(mutex_);
  ++(ok ? reloads_ok_ : reloads_failed_);
}
bool Metrics::last_reload_ok() const {
  std::lock_guard lock(mutex_);
  return last_reload_ok_;
}
std::string Metrics::last_reload_error() const {
  std::lock_guard lock(mutex_);
  return last_reload_error_;
}
uint64_t Metrics::rules_loaded() const {
  std::lock_guard lock(mutex_);
  return rules_;
}

std::string Metrics::render(const Gauges& gauges) const {
  std::lock_guard lock(mutex_);
  std::string out;
  head(out, "lodestone_posts_total", "counter", "Posts read, by source and outcome (new, duplicate, rejected).");
  for (const auto& [key, n] : posts_) {
    out += "lodestone_posts_total{source=\"" + label(key.first) + "\",outcome=\"" + label(key.second) + "\"} " +
           std::to_string(n) + "\n";
  }
  head(out, "lodestone_alerts_total", "counter", "Alerts stored, by rule.");
  for (const auto& [rule, n] : alerts_) {
    out += "lodestone_alerts_total{rule=\"" + label(rule) + "\"} " + std::to_string(n) + "\n";
  }
  head(out, "lodestone_alerts_held_total", "counter", "Alerts held back by max_alerts_per_hour, by rule.");
  for (const auto& [rule, n] : held_) {
    out += "lodestone_alerts_held_total{rule=\"" + label(rule) + "\"} " + std::to_string(n) + "\n";
  }
  head(out, "lodestone_delivery_attempts_total", "counter",
       "Delivery attempts, by notifier and outcome (delivered, retry, dead).");
  for (const auto& [key, n] : deliveries_) {
    out += "lodestone_delivery_attempts_total{notifier=\"" + label(key.first) + "\",outcome=\"" + label(key.second) +
           "\"} " + std::to_string(n) + "\n";
  }
  head(out, "lodestone_deliveries", "gauge", "Deliveries in the store, by notifier and state.");
  for (const auto& [notifier, state, n] : gauges.deliveries_by_state) {
    out += "lodestone_deliveries{notifier=\"" + label(notifier) + "\",state=\"" + label(state) + "\"} " +
           std::to_string(n) + "\n";
  }
  head(out, "lodestone_queue_depth", "gauge", "Posts waiting between the sources and the workers.");
  out += "lodestone_queue_depth " + std::to_string(gauges.queue_depth) + "\n";
  head(out, "lodestone_scan_seconds", "histogram", "Time to match one post.");
  for (size_t i = 0; i < kScanBuckets.size(); ++i) {
    out += "lodestone_scan_seconds_bucket{le=\"" + number(kScanBuckets[i]) + "\"} " + std::to_string(scan_buckets_[i]) +
           "\n";
  }
  out += "lodestone_scan_seconds_bucket{le=\"+Inf\"} " + std::to_string(scan_count_) + "\n";
  out += "lodestone_scan_seconds_sum " + number(scan_sum_) + "\n";
  out += "lodestone_scan_seconds_count " + std::to_string(scan_count_) + "\n";
  head(out, "lodestone_rules_loaded", "gauge", "Rules in the running rule set.");
  out += "lodestone_rules_loaded " + std::to_string(rules_) + "\n";
  head(out, "lodestone_last_reload_ok", "gauge", "1 when the last rule load succeeded, 0 when it failed.");
  out += std::string("lodestone_last_reload_ok ") + (last_reload_ok_ ? "1" : "0") + "\n";
  head(out, "lodestone_reloads_total", "counter", "Rule reloads, by outcome.");
  out += "lodestone_reloads_total{outcome=\"ok\"} " + std::to_string(reloads_ok_) + "\n";
  out += "lodestone_reloads_total{outcome=\"failed\"} " + std::to_string(reloads_failed_) + "\n";
  head(out, "lodestone_store_errors_total", "counter", "Batches the store failed to commit.");
  out += "lodestone_store_errors_total " + std::to_string(store_errors_) + "\n";
  head(out, "lodestone_source_up", "gauge",
       "1 while a source runs and can do its work, 0 when it is down or stopped on an error.");
  for (const auto& [source, state] : gauges.source_states) {
    out += "lodestone_source_up{source=\"" + label(source) + "\"} " + (state == "running" ? "1" : "0") + "\n";
  }
  // The sources' own families, each with its help and type once, in the order first given.
  std::vector<std::string> families;
  for (const MetricSample& s : gauges.extra) {
    if (std::find(families.begin(), families.end(), s.family) == families.end()) families.push_back(s.family);
  }
  for (const std::string& family : families) {
    bool first = true;
    for (const MetricSample& s : gauges.extra) {
      if (s.family != family) continue;
      if (first) head(out, family.c_str(), s.type, s.help);
      first = false;
      out += family;
      for (size_t i = 0; i < s.labels.size(); ++i) {
        out += (i ? "," : "{") + s.labels[i].first + "=\"" + label(s.labels[i].second) + "\"";
      }
      out += (s.labels.empty() ? " " : "} ") + number(s.value) + "\n";
    }
  }
  return out;
}

}  // namespace lodestone
