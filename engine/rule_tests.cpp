// Rule self-tests: a test post per test string, scanned with the whole rule set.
#include "engine/rule_tests.h"

#include <string>

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
      // A test that names no source is a post from a source the rule follows.
      post.source = test.source.empty() ? "lodestone/check" : test.source;
      scanner.set_apply_rule_sources(!test.source.empty());
      std::string shown;
      for (const auto& [field, text] : test.fields) {
        post.add_field(field, text);
        shown += (shown.empty() ? "" : ", ") + field + ": \"" + text + "\"";
      }
      std::string number;
      for (const auto& [name, value] : test.numbers) {
        post.set_number(name, value);
        format_number(value, number);
        shown += (shown.empty() ? "" : ", ") + name + ": " + number;
      }
      if (!test.source.empty()) shown += (shown.empty() ? "source: \"" : ", source: \"") + test.source + "\"";
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
