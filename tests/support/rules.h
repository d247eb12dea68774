// Test support: rule sets from inline TOML, posts from inline text, and what came of them.
// Call them on the test's thread: they assert with Catch2, whose assertions are not thread-safe.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "lodestone/scanner.h"
#include "lodestone/rule_set.h"

namespace lodestone::testing {

// Loads inline TOML as "rules.toml"; fails the test, showing the diagnostics, when it does not load.
inline std::shared_ptr<const RuleSet> rules(const std::string& toml) {
  LoadResult r = load_rule_set_from_string(toml, "rules.toml");
  INFO(format_diagnostics(r.diagnostics));
  REQUIRE(r.rule_set);
  return r.rule_set;
}

// The formatted diagnostics of loading inline TOML that should not load.
inline std::string load_errors(const std::string& toml) {
  LoadResult r = load_rule_set_from_string(toml, "rules.toml");
  CHECK_FALSE(r.rule_set);
  return format_diagnostics(r.diagnostics);
}

inline Post post(std::vector<std::pair<std::string, std::string>> fields, std::string id = "p1",
                 std::string source = "test") {
  Post p;
  p.id = std::move(id);
  p.source = std::move(source);
  for (auto& [name, text] : fields) p.add_field(name, text);
  return p;
}

// The ids of the rules that alert on a post.
inline std::vector<std::string> alerting(const std::shared_ptr<const RuleSet>& set, const Post& p) {
  Scanner scanner(set);
  std::vector<std::string> ids;
  for (const auto& a : scanner.scan(p)) ids.push_back(a.rule.id);
  return ids;
}

// Whether a one-rule set with this query alerts on a post whose body is `body`.
inline bool matches(const std::string& query, const std::string& body, const std::string& extra_toml = "") {
  auto set = rules(extra_toml + "\n[[rule]]\nid = \"r\"\nmatch = '''" + query + "'''\n");
  return !alerting(set, post({{"body", body}})).empty();
}

inline std::vector<Alert> alerts(const std::shared_ptr<const RuleSet>& set, const Post& p) {
  Scanner scanner(set);
  auto span = scanner.scan(p);
  return {span.begin(), span.end()};
}

}  // namespace lodestone::testing
