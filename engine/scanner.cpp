// Scanner: a Matcher finds a post's hits, an Evaluator decides the candidate rules over them, and
// one alert is built per rule that holds.
#include "lodestone/scanner.h"

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
  void set_clock_override(std::string matched_at) { clock_override_ = std::move(matched_at); }

 private:
  const compiled::RuleSetData& rules_;
  Matcher matcher_;
  Evaluator evaluator_;
  std::vector<Alert> alerts_;  // [0, alert_count_) are the last post's; the rest are spare
  size_t alert_count_ = 0;
  std::string clock_override_;
};

std::span<const Alert> ScannerState::scan(const Post& post) {
  alert_count_ = 0;
  // A failed hs_scan leaves the hits incomplete; Scanner::scan has no error value to return, and
  // alerting on part of a post would drop alerts silently, so it throws. It does not happen with a
  // valid database unless one Scanner is used by two threads at once.
  if (Result<void> matched = matcher_.match(post); !matched) throw std::runtime_error(matched.error());
  const PostHits& hits = matcher_.hits();
  std::string now;
  for (uint32_t r : hits.candidates()) {  // in rule order, so rules alert in the order defined
    if (!evaluator_.holds(r)) continue;
    if (alert_count_ == alerts_.size()) alerts_.emplace_back();
    Alert& alert = alerts_[alert_count_++];
    const compiled::Rule& rule = rules_.rules[r];
    if (now.empty()) now = clock_override_.empty() ? rfc3339_utc(std::time(nullptr)) : clock_override_;
    alert.id = alert_id(rule.id, post.source, post.id);
    alert.rule = {rule.id, rule.title, rule.severity, rule.tags};
    alert.post = {post.id, post.source, std::string(post.field("title")), std::string(post.field("url")),
                  std::string(post.field("published"))};
    alert.matched_at = now;
    evaluator_.describe(r, alert);
  }
  return {alerts_.data(), alert_count_};
}

// Throws std::runtime_error when Hyperscan cannot allocate scratch for the rule set's databases
// (out of memory, or a database it refuses); scan() throws std::runtime_error when hs_scan fails.
Scanner::Scanner(std::shared_ptr<const RuleSet> rules)
    : rules_(std::move(rules)), state_(std::make_unique<ScannerState>(rules_->data())) {}

Scanner::~Scanner() = default;

void Scanner::set_clock_override(std::string matched_at) { state_->set_clock_override(std::move(matched_at)); }

std::span<const Alert> Scanner::scan(const Post& post) { return state_->scan(post); }

}  // namespace lodestone
