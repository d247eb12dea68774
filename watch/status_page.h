// The watcher's status page (`/` on the admin address): recent alerts with their matches
// highlighted, alerts per rule over the last 24 hours, and each source's and notifier's state.
// A pure function of what the watcher gathers; call from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "watch/store.h"
#include "lodestone/alert.h"

namespace lodestone {

struct StatusPage {
  int64_t now_ms = 0;
  std::string started_at;  // RFC 3339
  uint64_t rules = 0;
  bool last_reload_ok = true;
  std::string last_reload_error;
  uint64_t queue_depth = 0;
  std::vector<std::pair<std::string, std::string>> sources;              // name, state
  std::vector<std::string> notifiers;                                    // names, config order
  std::vector<std::tuple<std::string, std::string, uint64_t>> deliveries;  // notifier, state, count
  std::vector<RuleHourCount> counts;  // the last 24 hours
  std::vector<Alert> recent;          // newest first
};

// A whole HTML document (UTF-8) that refreshes itself every 10 s. Every text from a post, a rule
// or a config is escaped.
std::string render_status_page(const StatusPage& page);

}  // namespace lodestone
