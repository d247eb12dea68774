// Evaluating queries: NOT over the whole post, NEAR distances, ATLEAST, field scopes.
#include <catch2/catch.hpp>

#include "support/rules.h"

using lodestone::testing::alerting;
using lodestone::testing::matches;
using lodestone::testing::post;
using lodestone::testing::rules;

TEST_CASE("operators combine with NEAR > NOT > AND > OR and juxtaposition as AND", "[evaluator]") {
  CHECK(matches("gallium germanium", "gallium and germanium"));
  CHECK_FALSE(matches("gallium germanium", "gallium only"));
  CHECK(matches("a OR b c", "a"));
  CHECK_FALSE(matches("a OR b c", "b"));
  CHECK(matches("(a OR b) c", "b c"));
  CHECK(matches("x NOT y", "x"));
  CHECK_FALSE(matches("x NOT y", "x y"));
  CHECK(matches("lithium and cobalt", "lithium and cobalt"));  // lower-case "and" is a word
  CHECK_FALSE(matches("lithium and cobalt", "lithium, cobalt"));
}

TEST_CASE("NOT means absent from every field in scope of the whole post", "[evaluator]") {
  auto set = rules("[[rule]]\nid = \"r\"\nmatch = 'gallium NOT germanium'\n");
  CHECK(alerting(set, post({{"title", "gallium"}, {"body", "prices"}})).size() == 1);
  CHECK(alerting(set, post({{"title", "gallium"}, {"body", "and germanium"}})).empty());
  CHECK(alerting(set, post({{"body", "germanium then gallium"}})).empty());
  // A field outside the rule's scope does not count against NOT.
  auto scoped = rules("[[rule]]\nid = \"r\"\nfields = [\"title\"]\nmatch = 'gallium NOT germanium'\n");
  CHECK(alerting(scoped, post({{"title", "gallium"}, {"body", "germanium"}})).size() == 1);
}

TEST_CASE("NEAR/n allows at most n characters between the two occurrences", "[evaluator]") {
  // Between the two lies " abc ": 5 characters.
  CHECK_FALSE(matches("gallium NEAR/3 germanium", "gallium abc germanium"));
  CHECK(matches("gallium NEAR/5 germanium", "gallium abc germanium"));
  CHECK_FALSE(matches("gallium NEAR/4 germanium", "gallium abc germanium"));
  CHECK(matches("gallium NEAR/5 germanium", "germanium abc gallium"));  // either order
  CHECK(matches("鎵 NEAR/2 鍺", "鎵和鍺"));                             // one character between
  CHECK(matches("鎵 NEAR/1 鍺", "鎵和鍺"));
  CHECK_FALSE(matches("鎵 NEAR/0 鍺", "鎵和鍺"));
  CHECK(matches("鎵 NEAR/0 鍺", "鎵鍺"));
}

TEST_CASE("NEAR counts characters of normalized text, not bytes", "[evaluator]") {
  // Between the terms: " 中國 " = 4 normalized characters, 8 bytes.
  CHECK(matches("gallium NEAR/4 germanium", "gallium 中國 germanium"));
  CHECK_FALSE(matches("gallium NEAR/3 germanium", "gallium 中國 germanium"));
  // White-space runs count once: "a \n\n  b" has one character between.
  CHECK(matches("alpha NEAR/1 beta", "alpha \n\n   beta"));
}

TEST_CASE("overlapping occurrences are 0 apart", "[evaluator]") {
  CHECK(matches("\"rare earth\" NEAR/0 /earth (metal|magnet)s?/", "rare earth magnets"));
}

TEST_CASE("NEAR needs both terms in the same field", "[evaluator]") {
  auto set = rules("[[rule]]\nid = \"r\"\nmatch = 'gallium NEAR/50 germanium'\n");
  CHECK(alerting(set, post({{"title", "gallium"}, {"body", "germanium"}})).empty());
  CHECK(alerting(set, post({{"title", "x"}, {"body", "gallium, germanium"}})).size() == 1);
}

TEST_CASE("NEAR takes @lists on either side and finds the closest pair", "[evaluator]") {
  std::string lists = "[terms]\nm = [\"gallium\", \"germanium\"]\nc = [\"China\", \"Beijing\"]\n";
  CHECK(matches("@m NEAR/10 @c", "China far far far far far far away; Beijing limits germanium", lists));
  CHECK_FALSE(matches("@m NEAR/5 @c", "gallium is a metal used widely by China", lists));
}

TEST_CASE("ATLEAST counts different operands, an @list standing for each of its terms", "[evaluator]") {
  std::string lists = "[terms]\nminerals = [\"gallium\", \"germanium\", \"graphite\", \"鋰\"]\n";
  CHECK(matches("ATLEAST(2, @minerals)", "gallium and graphite", lists));
  CHECK(matches("ATLEAST(2, @minerals)", "gallium and 锂", lists));
  CHECK_FALSE(matches("ATLEAST(2, @minerals)", "gallium, gallium and more gallium", lists));
  CHECK(matches("ATLEAST(3, @minerals, cobalt)", "gallium, cobalt, germanium", lists));
  CHECK_FALSE(matches("ATLEAST(3, @minerals, cobalt)", "gallium, cobalt", lists));
}

TEST_CASE("ATLEAST counts an entity once, whichever of its names occur", "[evaluator]") {
  std::string ents = R"([[entity]]
id = "bessent"
name = "Scott Bessent"
aliases = ["Bessent", "貝森特"]
[[entity]]
id = "lutnick"
name = "Howard Lutnick"
aliases = ["盧特尼克"]
)";
  CHECK_FALSE(matches("ATLEAST(2, @bessent, @lutnick)", "Scott Bessent (貝森特) spoke", ents));
  CHECK(matches("ATLEAST(2, @bessent, @lutnick)", "貝森特與盧特尼克", ents));
}

TEST_CASE("field scopes: field:term and the rule's fields", "[evaluator]") {
  auto set = rules(R"([[rule]]
id = "title-only"
match = 'title:稀土'
[[rule]]
id = "body-rule"
fields = ["body"]
match = '稀土'
[[rule]]
id = "author"
match = 'author:newsreader'
[[rule]]
id = "url"
fields = ["url"]
match = 'ptt'
)");
  CHECK(alerting(set, post({{"title", "稀土"}, {"body", "x"}})) == std::vector<std::string>{"title-only"});
  CHECK(alerting(set, post({{"title", "x"}, {"body", "稀土"}})) == std::vector<std::string>{"body-rule"});
  CHECK(alerting(set, post({{"author", "newsreader"}})) == std::vector<std::string>{"author"});
  // url is metadata: matched only where a rule names it.
  CHECK(alerting(set, post({{"body", "ptt"}, {"url", "https://www.ptt.cc/x"}})) == std::vector<std::string>{"url"});
}

TEST_CASE("default fields are every text field, not metadata", "[evaluator]") {
  auto set = rules("[[rule]]\nid = \"r\"\nmatch = 'ptt'\n");
  CHECK(alerting(set, post({{"summary", "ptt board"}})).size() == 1);
  CHECK(alerting(set, post({{"body", "x"}, {"url", "https://ptt.cc/"}, {"published", "ptt"}})).empty());
}

TEST_CASE("one alert per rule and post, however many occurrences", "[evaluator]") {
  auto set = rules("[[rule]]\nid = \"r\"\nmatch = 'gallium OR germanium'\n");
  auto got = lodestone::testing::alerts(set, post({{"title", "gallium"}, {"body", "gallium germanium gallium"}}));
  REQUIRE(got.size() == 1);
  CHECK(got[0].matches.size() == 4);
}

TEST_CASE("a term list named like an entity is the file's list, expanded by ATLEAST", "[evaluator]") {
  std::string toml = R"([terms]
metals = ["gallium", "germanium"]
[[entity]]
id = "metals"
name = "Metals Inc"
)";
  CHECK(matches("ATLEAST(2, @metals)", "gallium and germanium", toml));
  CHECK_FALSE(matches("ATLEAST(2, @metals)", "Metals Inc and gallium", toml));
  auto loaded = lodestone::load_rule_set_from_string(toml + "[[rule]]\nid = \"r\"\nmatch = '@metals'\n", "rules.toml");
  CHECK_THAT(format_diagnostics(loaded.diagnostics),
             Catch::Matchers::Contains("rules.toml:2:1: warning: term list 'metals' hides the entity of the same id"));
}
