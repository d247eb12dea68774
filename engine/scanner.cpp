// Scanner: a Matcher finds a post's hits, an Evaluator decides the candidate rules over them, and
// one alert is built per rule that holds.
#include "lodestone/scanner.h"

#include <fnmatch.h>

#include <ctime>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "engine/evaluator.h"
#include "engine/matcher.h"
#include "util/clock.h"

namespace lodestone {

// What a Scanner owns (lodestone/scanner.h declares it): a Matcher, an Evaluator over the
// Matcher's hits, and the alerts of the last post, whose buffers are reused post after post.
class ScannerState {
 public:
  // Throws std::runtime_error when Hyperscan cannot allocate scratch (Matcher's constructor).
  explicit ScannerState(const compiled::RuleSetData& rules)
      : rules_(rules), matcher_(rules), evaluator_(rules, matcher_.hits()) {}

  std::span<const Alert> scan(const Post& post);
  void set_apply_rule_sources(bool apply) { apply_sources_ = apply; }
  void set_clock_override(std::string matched_at) {
    clock_override_ = std::move(matched_at);
    now_.clear();
  }

 private:
  // Sets now_ for the current post's alerts.
  void update_now();
  // Whether the rule follows the post's source: its `sources` globs are empty or one matches.
  bool follows(const compiled::Rule& rule, const Post& post) const;

  const compiled::RuleSetData& rules_;
  Matcher matcher_;
  Evaluator evaluator_;
  std::vector<Alert> alerts_;  // [0, alert_count_) are the last post's; the rest are spare
  size_t alert_count_ = 0;
  std::string clock_override_;
  std::string now_;  // matched_at of the current post's alerts: the override or the clock's second
  std::time_t now_second_ = 0;
  bool apply_sources_ = true;
};

bool ScannerState::follows(const compiled::Rule& rule, const Post& post) const {
  if (!apply_sources_ || rule.sources.empty()) return true;
  for (const std::string& glob : rule.sources) {
    if (fnmatch(glob.c_str(), post.source.c_str(), 0) == 0) return true;
  }
  return false;
}

std::span<const Alert> ScannerState::scan(const Post& post) {
  alert_count_ = 0;
  // A failed hs_scan leaves the hits incomplete; Scanner::scan has no error value to return, and
  // alerting on part of a post would drop alerts silently, so it throws. It does not happen with a
  // valid database unless one Scanner is used by two threads at once.
  if (Result<void> matched = matcher_.match(post); !matched) throw std::runtime_error(matched.error());
  const PostHits& hits = matcher_.hits();
  bool timed = false;
  // Each field is assigned in place, never built as a temporary: the spare alerts' strings keep
  // their capacity, so filling an alert does not allocate once warm.
  for (uint32_t r : hits.candidates()) {  // in rule order, so rules alert in the order defined
    if (!follows(rules_.rules[r], post) || !evaluator_.holds(r)) continue;
    if (!timed) {
      update_now();
      timed = true;
    }
    if (alert_count_ == alerts_.size()) alerts_.emplace_back();
    Alert& alert = alerts_[alert_count_++];
    const compiled::Rule& rule = rules_.rules[r];
    alert_id(rule.id, post.source, post.id, alert.id);
    alert.rule.id = rule.id;
    alert.rule.title = rule.title;
    alert.rule.severity = rule.severity;
    alert.rule.tags = rule.tags;
    alert.post.id = post.id;
    alert.post.source = post.source;
    alert.post.title = post.field("title");
    alert.post.url = post.field("url");
    alert.post.published = post.field("published");
    alert.matched_at = now_;
    evaluator_.describe(r, alert);
  }
  return {alerts_.data(), alert_count_};
}

// The clock's string changes once a second at most, so it is formatted again only then.
void ScannerState::update_now() {
  if (!clock_override_.empty()) {
    now_ = clock_override_;
    return;
  }
  const std::time_t second = std::time(nullptr);
  if (second == now_second_ && !now_.empty()) return;
  now_second_ = second;
  now_ = rfc3339_utc(second);
}

// Throws std::runtime_error when Hyperscan cannot allocate scratch for the rule set's databases
// (out of memory, or a database it refuses); scan() throws std::runtime_error when hs_scan fails.
Scanner::Scanner(std::shared_ptr<const RuleSet> rules)
    : rules_(std::move(rules)), state_(std::make_unique<ScannerState>(rules_->data())) {}

Scanner::~Scanner() = default;

void Scanner::set_clock_override(std::string matched_at) { state_->set_clock_override(std::move(matched_at)); }

void Scanner::set_apply_rule_sources(bool apply) { state_->set_apply_rule_sources(apply); }

std::span<const Alert> Scanner::scan(const Post& post) { return state_->scan(post); }

}  // namespace lodestone
