// Scanner: matches posts against a compiled RuleSet and yields alerts.
// One Scanner per worker thread: it owns its Hyperscan scratch and buffers and is not thread-safe;
// any number of Scanners may share one RuleSet.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "lodestone/alert.h"
#include "lodestone/post.h"
#include "lodestone/rule_set.h"

namespace lodestone {

class ScannerState;  // engine/scanner.cpp: the Matcher and Evaluator a Scanner composes

class Scanner {
 public:
  // Throws std::runtime_error when Hyperscan cannot allocate scratch for the rule set's databases.
  explicit Scanner(std::shared_ptr<const RuleSet> rules);
  ~Scanner();
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  // Matches one post; returns its alerts, one per matching rule, valid until the next call.
  // After warm-up, a post that raises no alert is scanned without allocating.
  // Throws std::runtime_error if Hyperscan fails to scan, which a valid rule set rules out unless
  // one Scanner is used by two threads at once; that post then yields no alerts.
  std::span<const Alert> scan(const Post& post);

  // Set a fixed `matched_at` (for reproducible output and tests); empty means the clock.
  void set_clock_override(std::string matched_at);

  // Whether a rule's `sources` globs are applied (the default): a rule alerts only on posts whose
  // source one of them matches. Off for a rule's self-tests that name no source.
  void set_apply_rule_sources(bool apply);

  const RuleSet& rules() const { return *rules_; }

 private:
  std::shared_ptr<const RuleSet> rules_;
  std::unique_ptr<ScannerState> state_;
};

}  // namespace lodestone
