// Rule self-tests: a test post per test string, scanned with the whole rule set.
#include "engine/rule_tests.h"

#include "lodestone/scanner.h"
#include "rules/compiled.h"

namespace lodestone {

RuleTestReport run_rule_tests(const std::shared_ptr<const RuleSet>& rules) {
  RuleTestReport report;
  Scanner scanner(rules);
  Post post;
  for (const auto& rule : rules->data().rules) {
    for (const auto& test : rule.tests) {
      post.clear();
      post.id = "test";
      post.source = "lodestone/check";
      std::string shown;
      for (const auto& [field, text] : test.fields) {
        post.add_field(field, text);
        shown += (shown.empty() ? "" : ", ") + field + ": \"" + text + "\"";
      }
      const Alert* hit = nullptr;
      for (const Alert& a : scanner.scan(post)) {
        if (a.rule.id == rule.id) hit = &a;
      }
      if ((hit != nullptr) == test.expect_match) {
        ++report.passed;
        continue;
      }
      ++report.failed;
      std::string msg = "rule '" + rule.id + "' ";
      if (test.expect_match) {
        msg += "should match {" + shown + "} but does not";
      } else {
        msg += "should not match {" + shown + "} but matches";
        for (const auto& m : hit->matches) msg += " '" + m.term + "' (\"" + m.text + "\" in " + m.field + ")";
      }
      report.failures.error("rule-test", test.place, msg, test.source_line);
    }
  }
  return report;
}

}  // namespace lodestone
