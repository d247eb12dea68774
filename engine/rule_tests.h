// Rule self-tests: each rule's [rule.tests] run through a real Scanner, as `lodestone check` does.
#pragma once

#include <memory>

#include "lodestone/rule_set.h"
#include "lodestone/diagnostics.h"

namespace lodestone {

struct RuleTestReport {
  size_t passed = 0;
  size_t failed = 0;
  Diagnostics failures;  // one error per failed test, at the test's place in its file
};

RuleTestReport run_rule_tests(const std::shared_ptr<const RuleSet>& rules);

}  // namespace lodestone
