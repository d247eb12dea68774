// Evaluating queries: NOT over the whole post, NEAR distances, ATLEAST, field scopes; and the
// Evaluator alone, deciding and describing rules over a Matcher's hits.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/evaluator.h"
#include "engine/matcher.h"
#include "rules/compiled.h"
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

// The Evaluator alone, on the hits of a Matcher, as a Scanner composes them.

namespace {

class MatcherAndEvaluator {
 public:
  explicit MatcherAndEvaluator(std::shared_ptr<const lodestone::RuleSet> set)
      : set_(std::move(set)), matcher_(set_->data()), evaluator_(set_->data(), matcher_.hits()) {}

  // Matches a post (kept here: the hits point into it) and returns its candidate rules' ids.
  std::vector<std::string> match(lodestone::Post p) {
    post_ = std::move(p);
    REQUIRE(matcher_.match(post_).ok());
    std::vector<std::string> out;
    for (uint32_t r : matcher_.hits().candidates()) out.push_back(set_->data().rules[r].id);
    return out;
  }
  bool holds(std::string_view rule) { return evaluator_.holds(index(rule)); }
  lodestone::Alert describe(std::string_view rule) {
    lodestone::Alert alert;
    evaluator_.describe(index(rule), alert);
    return alert;
  }

 private:
  uint32_t index(std::string_view id) const {
    const auto& rules = set_->data().rules;
    for (uint32_t r = 0; r < rules.size(); ++r) {
      if (rules[r].id == id) return r;
    }
    FAIL("no rule " << id);
    return 0;
  }

  std::shared_ptr<const lodestone::RuleSet> set_;
  lodestone::Matcher matcher_;
  lodestone::Evaluator evaluator_;
  lodestone::Post post_;
};

// Loads inline TOML as a file of tests/data/lists/, so entity list paths are relative to it.
std::shared_ptr<const lodestone::RuleSet> rules_with_lists(const std::string& toml) {
  auto r = lodestone::load_rule_set_from_string(toml, std::string(LODESTONE_TEST_DATA) + "/lists/rules.toml");
  INFO(format_diagnostics(r.diagnostics));
  REQUIRE(r.rule_set);
  return r.rule_set;
}

const std::string kOfficials = R"([[entities]]
id = "officials"
file = "officials.tsv"
header = true
id_column = "id"
name_column = "full_name"
alias_column = "aliases"
alias_separator = ";"
)";

}  // namespace

TEST_CASE("the evaluator decides NEAR on the hits of one field, n characters apart at most", "[evaluator]") {
  MatcherAndEvaluator d(rules(R"([[rule]]
id = "near5"
match = 'gallium NEAR/5 germanium'
[[rule]]
id = "near4"
match = 'gallium NEAR/4 germanium'
)"));
  // Both are candidates; the distance is the Evaluator's to judge.
  CHECK(d.match(post({{"body", "gallium abc germanium"}})) == std::vector<std::string>{"near5", "near4"});
  CHECK(d.holds("near5"));
  CHECK_FALSE(d.holds("near4"));
  d.match(post({{"title", "gallium"}, {"body", "germanium"}}));
  CHECK_FALSE(d.holds("near5"));
}

TEST_CASE("the evaluator's NOT sees every field of the post in scope", "[evaluator]") {
  MatcherAndEvaluator d(rules("[[rule]]\nid = \"r\"\nmatch = 'gallium NOT germanium'\n"));
  CHECK(d.match(post({{"title", "gallium"}, {"body", "germanium"}})) == std::vector<std::string>{"r"});
  CHECK_FALSE(d.holds("r"));
  d.match(post({{"title", "gallium"}, {"body", "prices"}}));
  CHECK(d.holds("r"));
}

TEST_CASE("the evaluator refuses a hit that fails its term's boundary or field scope", "[evaluator]") {
  MatcherAndEvaluator d(rules(R"([[rule]]
id = "ai"
match = 'AI'
[[rule]]
id = "title-only"
match = 'title:稀土'
[[rule]]
id = "anywhere"
match = '稀土'
)"));
  CHECK(d.match(post({{"title", "MAIL"}, {"body", "稀土"}})) ==
        std::vector<std::string>{"ai", "title-only", "anywhere"});
  CHECK_FALSE(d.holds("ai"));
  CHECK_FALSE(d.holds("title-only"));
  CHECK(d.holds("anywhere"));
}

TEST_CASE("ATLEAST over an entity list counts different entities, not their names", "[evaluator]") {
  MatcherAndEvaluator d(rules_with_lists(kOfficials + "[[rule]]\nid = \"two\"\nmatch = 'ATLEAST(2, @officials)'\n"));
  d.match(post({{"body", "Scott Bessent, also written 貝森特"}}));
  CHECK_FALSE(d.holds("two"));
  d.match(post({{"body", "貝森特 met Wang Wentao"}}));
  CHECK(d.holds("two"));
}

TEST_CASE("one evaluator decides post after post, never from an earlier post's hits", "[evaluator]") {
  MatcherAndEvaluator d(
      rules("[[rule]]\nid = \"r\"\nmatch = 'gallium germanium'\n[[rule]]\nid = \"g\"\nmatch = 'gallium'\n"));
  d.match(post({{"body", "gallium germanium"}}));
  CHECK(d.holds("r"));
  d.match(post({{"body", "gallium alone"}}));
  CHECK_FALSE(d.holds("r"));
  CHECK(d.holds("g"));
}

TEST_CASE("describe lists each counting span in original code points, field by field", "[evaluator]") {
  MatcherAndEvaluator d(rules("[[rule]]\nid = \"r\"\nmatch = 'gallium OR germanium'\n"));
  d.match(post({{"title", "Gallium"}, {"body", "ＧＥＲＭＡＮＩＵＭ and galliumx, gallium"}}));
  REQUIRE(d.holds("r"));
  const auto alert = d.describe("r");
  REQUIRE(alert.matches.size() == 3);  // "galliumx" fails the boundary
  CHECK((alert.matches[0].field == "title" && alert.matches[0].start == 0 && alert.matches[0].end == 7));
  const auto& germanium = alert.matches[1];
  CHECK((germanium.field == "body" && germanium.term == "germanium" && germanium.text == "ＧＥＲＭＡＮＩＵＭ"));
  CHECK((germanium.start == 0 && germanium.end == 9 && germanium.byte_start == 0 && germanium.byte_end == 27));
  CHECK((alert.matches[2].text == "gallium" && alert.matches[2].start == 24 && alert.matches[2].byte_start == 42));
  CHECK(alert.entities.empty());
}

TEST_CASE("describe names each entity once, by the first of its names in the text", "[evaluator]") {
  MatcherAndEvaluator d(rules_with_lists(kOfficials + "[[rule]]\nid = \"r\"\nmatch = '@officials'\n"));
  d.match(post({{"body", "Bessent (貝森特) and Wang Wentao"}}));
  REQUIRE(d.holds("r"));
  const auto alert = d.describe("r");
  REQUIRE(alert.matches.size() == 3);
  CHECK(alert.matches[1].text == "貝森特");
  CHECK(alert.matches[1].entity == "scott-bessent");
  CHECK(alert.matches[1].entity_list == "officials");
  REQUIRE(alert.entities.size() == 2);
  CHECK((alert.entities[0].id == "scott-bessent" && alert.entities[0].alias == "Bessent"));
  CHECK((alert.entities[1].id == "wang-wentao" && alert.entities[1].alias == "Wang Wentao"));
}
