// lodestone check: load, compile, self-test; every problem with its file:line:col.
#include <iostream>

#include "engine/cli/commands.h"
#include "engine/cli/config.h"
#include "engine/rule_tests.h"
#include "rules/compiled.h"

namespace lodestone::cli {

std::shared_ptr<const RuleSet> load_rules(const std::string& config, const std::vector<std::string>& rules,
                                          bool* had_warnings) {
  std::vector<std::string> paths = rules;
  Diagnostics diags;
  if (!config.empty()) {
    auto c = load_config(config, diags);
    if (!c) {
      std::cerr << format_diagnostics(diags);
      return nullptr;
    }
    paths.insert(paths.end(), c->rules.begin(), c->rules.end());
  }
  if (paths.empty()) {
    std::cerr << "lodestone: no rules given (use -c CONFIG or name rule files)\n";
    return nullptr;
  }
  LoadResult result = load_rule_set(paths);
  std::cerr << format_diagnostics(result.diagnostics);
  if (had_warnings) *had_warnings = !result.diagnostics.empty();
  if (!result.rule_set) {
    const size_t n = result.diagnostics.error_count();
    std::cerr << "lodestone: " << n << " error" << (n == 1 ? "" : "s") << "; no rules loaded\n";
  }
  return result.rule_set;
}

int run_check(const CheckOptions& options) {
  auto rules = load_rules(options.config, options.rules);
  if (!rules) return 1;
  RuleTestReport report = run_rule_tests(rules);
  std::cerr << format_diagnostics(report.failures);
  const auto& d = rules->data();
  std::cout << (report.failed ? "FAILED: " : "ok: ") << d.rules.size() << " rules, " << d.entities.size()
            << " entities, " << d.patterns.size() << " patterns from " << d.files.size() << " file"
            << (d.files.size() == 1 ? "" : "s") << "; " << report.passed << " tests passed, " << report.failed
            << " failed\n";
  return report.failed ? 1 : 0;
}

}  // namespace lodestone::cli
