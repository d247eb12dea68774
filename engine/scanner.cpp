// Scanner: match, evaluate the candidate rules, build one alert per rule that holds.
#include "lodestone/scanner.h"

#include <algorithm>
#include <ctime>

#include "util/clock.h"
#include "engine/scanner_state.h"

namespace lodestone {

Scanner::Scanner(std::shared_ptr<const RuleSet> rules)
    : rules_(std::move(rules)), state_(std::make_unique<ScannerState>(rules_->data())) {}

Scanner::~Scanner() = default;

void Scanner::set_clock_override(std::string matched_at) { state_->clock_override = std::move(matched_at); }

std::span<const Alert> Scanner::scan(const Post& post) {
  ScannerState& s = *state_;
  s.alert_count = 0;
  s.match(post);
  if (s.candidates.empty()) return {};
  // Rules alert in the order they were defined, whatever order their terms were hit in.
  std::sort(s.candidates.begin(), s.candidates.end());
  std::string now;
  for (uint32_t r : s.candidates) {
    if (!s.evaluate(r)) continue;
    if (s.alert_count == s.alerts.size()) s.alerts.emplace_back();
    Alert& alert = s.alerts[s.alert_count++];
    const compiled::Rule& rule = s.rules.rules[r];
    if (now.empty()) now = s.clock_override.empty() ? rfc3339_utc(std::time(nullptr)) : s.clock_override;
    alert.id = alert_id(rule.id, post.source, post.id);
    alert.rule = {rule.id, rule.title, rule.severity, rule.tags};
    alert.post = {post.id, post.source, std::string(post.field("title")), std::string(post.field("url")),
                  std::string(post.field("published"))};
    alert.matched_at = now;
    s.describe(r, post, alert);
  }
  return {s.alerts.data(), s.alert_count};
}

}  // namespace lodestone
