// Loading rule files: every mistake is an error at its file:line:col, and all are reported.
#include <catch2/catch.hpp>

#include "support/rules.h"

using Catch::Matchers::Contains;
using lodestone::load_rule_set;
using lodestone::testing::load_errors;
using lodestone::testing::rules;

TEST_CASE("a well-formed rule file loads with its rules, terms and entities", "[loader]") {
  auto set = rules(R"(
[terms]
minerals = ["gallium", "鎵"]

[[entity]]
id = "scott-bessent"
name = "Scott Bessent"
aliases = ["Bessent", "貝森特"]

[[rule]]
id = "minerals"
title = "Minerals"
severity = "high"
match = '@minerals OR @scott-bessent'
fields = ["title", "body"]
notify = ["ops"]
tags = ["a", "b"]
case_sensitive = false
fold_chinese = true

[rule.tests]
match = ["gallium", { title = "貝森特" }]
no_match = ["nothing"]
)");
  CHECK(set->rule_count() == 1);
  CHECK(set->pattern_count() == 5);  // gallium, 鎵, Scott Bessent, Bessent, 貝森特
}

TEST_CASE("an unknown key names its place and suggests the key meant", "[loader]") {
  std::string err = load_errors("[[rule]]\nid = \"r\"\nmatch = 'a'\nsevrity = \"high\"\n");
  CHECK_THAT(err, Contains("rules.toml:4:1: error: unknown key 'sevrity' in [[rule]] (did you mean 'severity'?)"));
  CHECK_THAT(err, Contains("\n  sevrity = \"high\"\n  ^"));
}

TEST_CASE("an unknown top-level table is an error", "[loader]") {
  CHECK_THAT(load_errors("[term]\nx = [\"a\"]\n"),
             Contains("rules.toml:1:2: error: unknown key 'term' in a rule file (did you mean 'terms'?)"));
}

TEST_CASE("a value of the wrong type names the key and both types", "[loader]") {
  std::string err = load_errors("[[rule]]\nid = \"r\"\nmatch = 'a'\nseverity = 3\ntags = \"x\"\nnotify = [1]\n");
  CHECK_THAT(err, Contains("rules.toml:4:12: error: 'severity' must be a string, not an integer"));
  CHECK_THAT(err, Contains("rules.toml:6:11: error: 'notify' must hold strings only, not an integer"));
}

TEST_CASE("a bad rule id, severity or missing key is an error at its place", "[loader]") {
  std::string err = load_errors(
      "[[rule]]\nid = \"Bad Id\"\nmatch = 'a'\n\n"
      "[[rule]]\nid = \"ok\"\nseverity = \"hgh\"\nmatch = 'a'\n\n"
      "[[rule]]\nid = \"no-match\"\n");
  CHECK_THAT(err, Contains("rules.toml:2:6: error: rule id 'Bad Id' must match [a-z0-9][a-z0-9._-]*"));
  CHECK_THAT(err, Contains("rules.toml:7:12: error: severity 'hgh' is not one of info, low, medium, high, critical "
                           "(did you mean 'high'?)"));
  CHECK_THAT(err, Contains("rules.toml:10:1: error: rule 'no-match' needs a 'match' query"));
}

TEST_CASE("TOML syntax errors point at the offending character", "[loader]") {
  CHECK_THAT(load_errors("[[rule]]\nid = \"r\"\nmatch = 'a' ;\n"), Contains("rules.toml:3:13: error: "));
}

TEST_CASE("duplicate rule and entity ids are errors that name both places, across files", "[loader]") {
  auto r = load_rule_set({LODESTONE_TEST_DATA "/rules/dup_a.toml", LODESTONE_TEST_DATA "/rules/dup_b.toml"});
  std::string err = format_diagnostics(r.diagnostics);
  CHECK_FALSE(r.rule_set);
  CHECK_THAT(err, Contains("dup_b.toml:5:6: error: rule id 'china-exports' is also defined at "));
  CHECK_THAT(err, Contains("dup_a.toml:6:6\n"));
  CHECK_THAT(err, Contains("dup_b.toml:2:6: error: entity id 'bessent' is also defined at "));
}

TEST_CASE("term lists are local to their file, entities are shared", "[loader]") {
  auto r = load_rule_set({LODESTONE_TEST_DATA "/rules/lists_a.toml", LODESTONE_TEST_DATA "/rules/lists_b.toml"});
  std::string err = format_diagnostics(r.diagnostics);
  CHECK_FALSE(r.rule_set);
  // lists_b uses a's entity (fine) and a's term list (an error: term lists are per file).
  CHECK_THAT(err, Contains("lists_b.toml:3:10: error: unknown term list '@minerals'"));
  CHECK(r.diagnostics.error_count() == 1);
}

TEST_CASE("an unknown @name is an error inside the query string, with a suggestion", "[loader]") {
  std::string err = load_errors(R"([terms]
rare_earths = ["rare earth*"]

[[rule]]
id = "r"
match = 'gallium AND @rare_earth'
)");
  CHECK_THAT(err, Contains("rules.toml:6:22: error: unknown term list '@rare_earth' (did you mean '@rare_earths'?)"));
  CHECK_THAT(err, Contains("\n  match = 'gallium AND @rare_earth'\n                       ^"));
}

TEST_CASE("query columns count code points and follow escapes in basic strings", "[loader]") {
  // 稀土 are two code points; \" is two characters in the file but one in the string.
  std::string err = load_errors("[[rule]]\nid = \"r\"\nmatch = \"稀土 \\\"a b\\\" AND )\"\n");
  CHECK_THAT(err, Contains("rules.toml:3:25: error: expected a term after AND"));
}

TEST_CASE("query errors in multi-line strings land on the right line", "[loader]") {
  std::string err = load_errors("[[rule]]\nid = \"r\"\nmatch = '''\n  gallium\n  AND @nope\n'''\n");
  CHECK_THAT(err, Contains("rules.toml:5:7: error: unknown term list '@nope'"));
}

TEST_CASE("an empty term is an error at the term", "[loader]") {
  std::string err = load_errors("[terms]\nx = [\"ok\", \"  \"]\n[[rule]]\nid = \"r\"\nmatch = '@x'\n");
  CHECK_THAT(err, Contains("rules.toml:2:13: error: empty term"));
}

TEST_CASE("a term that normalizes to nothing is an error", "[loader]") {
  std::string err = load_errors("[terms]\nx = [\"\\u200b\"]\n[[rule]]\nid = \"r\"\nmatch = '@x'\n");
  CHECK_THAT(err, Contains("rules.toml:2:7: error: term '\u200b' is empty after normalization"));
}

TEST_CASE("unsupported regex constructs are errors naming the construct", "[loader]") {
  std::string err = load_errors(R"([terms]
x = ["/export (?=ban)/", "/(a)\\1/", "/x*/"]

[[rule]]
id = "r"
match = '@x OR /(?<!un)ban/'
)");
  CHECK_THAT(err, Contains("rules.toml:2:7: error: /export (?=ban)/: lookaround is not supported"));
  CHECK_THAT(err, Contains("rules.toml:2:27: error: /(a)\\1/: back-references are unsupported"));
  CHECK_THAT(err, Contains("rules.toml:2:39: error: /x*/: matches the empty string"));
  CHECK_THAT(err, Contains("rules.toml:6:16: error: /(?<!un)ban/: lookaround is not supported"));
}

TEST_CASE("every error of a load is reported, not only the first", "[loader]") {
  auto r = lodestone::load_rule_set_from_string(R"([[rule]]
id = "a"
match = '@missing'

[[rule]]
id = "b"
match = 'x AND'

[[rule]]
id = "c"
match = 'y'
colour = "red"
)",
                                                "rules.toml");
  CHECK_FALSE(r.rule_set);
  CHECK(r.diagnostics.error_count() == 3);
}

TEST_CASE("a field scope outside the rule's fields is an error", "[loader]") {
  std::string err = load_errors("[[rule]]\nid = \"r\"\nfields = [\"title\"]\nmatch = 'body:x'\n");
  CHECK_THAT(err, Contains("rules.toml:4:10: error: field 'body' is not among this rule's fields"));
}

TEST_CASE("a query that holds with none of its terms present is refused", "[loader]") {
  CHECK_THAT(load_errors("[[rule]]\nid = \"r\"\nmatch = 'NOT spam'\n"),
             Contains("rules.toml:3:9: error: query 'NOT spam' would match a post that has none of its terms"));
  CHECK_THAT(load_errors("[[rule]]\nid = \"r\"\nmatch = 'ham OR NOT spam'\n"), Contains("would match a post"));
}

TEST_CASE("ATLEAST asking for more operands than it has is an error", "[loader]") {
  std::string err = load_errors("[terms]\nm = [\"a\", \"b\"]\n[[rule]]\nid = \"r\"\nmatch = 'ATLEAST(3, @m)'\n");
  CHECK_THAT(err, Contains("rules.toml:5:10: error: ATLEAST(3, …) has only 2 operands, so it can never match"));
}

TEST_CASE("a missing file and an empty glob are errors", "[loader]") {
  auto r = load_rule_set({"/nonexistent/rules.toml", "/nonexistent/*.toml"});
  std::string err = format_diagnostics(r.diagnostics);
  CHECK_THAT(err, Contains("/nonexistent/rules.toml: error: cannot read rule file"));
  CHECK_THAT(err, Contains("/nonexistent/*.toml: error: pattern matches no rule file"));
}

TEST_CASE("a directory loads every .toml file in it", "[loader]") {
  auto r = load_rule_set({LODESTONE_SOURCE_DIR "/rules/packs"});
  INFO(format_diagnostics(r.diagnostics));
  REQUIRE(r.rule_set);
  CHECK(r.rule_set->rule_count() >= 5);
}

TEST_CASE("non-ASCII text outside strings is an error at the character, not a crash", "[loader]") {
  // toml++ 3.3 reaches __builtin_unreachable on these (upstream #190, #295): Lodestone refuses
  // them first, at their place.
  CHECK_THAT(load_errors("[[rule]]\nid\xd1\xa4 \"x\"\nmatch = 'a'\n"),
             Contains("rules.toml:2:3: error: unexpected non-ASCII character outside a string"));
  CHECK_THAT(load_errors("[[rule]]\nid = \"x\"\nmatch = 稀土\n"),
             Contains("rules.toml:3:9: error: unexpected non-ASCII character outside a string"));
  CHECK_THAT(load_errors("[[rule]]\nid = \"x\"\ntitle = \"\"\"a \\\n   \u00a7b\"\"\"\nmatch = 'a'\n"),
             Contains("rules.toml:4:4: error: a line continued with a line-ending backslash must not start with "
                      "a non-ASCII character"));
  // Non-ASCII in strings and comments is fine.
  lodestone::testing::rules("# 稀土 rules\n[[rule]]\nid = \"x\" # 註解\nmatch = '稀土'\ntitle = \"\"\"多\n行\"\"\"\n");
}

TEST_CASE("a quote where no string may start does not hide what follows it", "[loader]") {
  // Found by fuzzing: `=-"` is no string to toml++, which then tests the next characters as
  // white space.
  CHECK_THAT(load_errors("[[rule]]\nid = \"x\"\nmatch =-\"AR-\xcd\x97"
                         "b\"\n"),
             Contains("rules.toml:3:13: error: unexpected non-ASCII character outside a string"));
}

TEST_CASE("a bad operand inside ATLEAST is reported, not followed", "[loader]") {
  // Found by fuzzing: the first rule of a file with an unknown list inside ATLEAST.
  CHECK_THAT(load_errors("[[rule]]\nid = \"r\"\nmatch = 'ATLEAST(1, @nope)'\n"),
             Contains("rules.toml:3:21: error: unknown term list '@nope'"));
  CHECK_THAT(load_errors("[[rule]]\nid = \"r\"\nmatch = 'ATLEAST(1, /(?=x)/, a)'\n"),
             Contains("lookaround is not supported"));
}
