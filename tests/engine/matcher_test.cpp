// Matching terms in text: Unicode folding, word boundaries, prefixes, phrases and regexes; and
// the Matcher alone: the hits, candidates and field texts it hands the Evaluator.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "engine/matcher.h"
#include "rules/compiled.h"
#include "support/rules.h"

using lodestone::testing::matches;

TEST_CASE("a CJK term matches inside a sentence without spaces", "[matcher]") {
  CHECK(matches("稀土", "中國稀土出口管制升級"));
  CHECK(matches("出口管制", "中國稀土出口管制升級"));
  CHECK_FALSE(matches("稀土", "中國出口管制升級"));
}

TEST_CASE("AI matches as a word or next to Han, never inside MAIL", "[matcher]") {
  CHECK(matches("AI", "台灣AI晶片需求強勁"));
  CHECK(matches("AI", "AI chips sell out"));
  CHECK(matches("AI", "new chips for (AI)."));
  CHECK_FALSE(matches("AI", "MAIL delivery notices"));
  CHECK_FALSE(matches("AI", "AIDS research"));
  CHECK_FALSE(matches("AI", "OpenAI2 launched"));
}

TEST_CASE("word boundaries use Unicode letters and digits of spaced scripts", "[matcher]") {
  CHECK_FALSE(matches("rand", "Grand Rapids"));
  CHECK_FALSE(matches("cafe", "cafés"));  // é is a letter: no boundary after "cafe"
  CHECK(matches("café", "the café opened"));
  CHECK_FALSE(matches("москва", "подмосковье"));
  CHECK(matches("москва", "Москва, Россия"));
  CHECK(matches("G7", "the G7 summit"));
  CHECK_FALSE(matches("G7", "G77 members"));
}

TEST_CASE("a prefix term drops the boundary on the right only", "[matcher]") {
  CHECK(matches("control*", "export controls tightened"));
  CHECK(matches("control*", "a controlled substance"));
  CHECK(matches("control*", "under control"));
  CHECK_FALSE(matches("control*", "remote-uncontrolled"));
  CHECK(matches("\"exchange rate*\"", "exchange rates rose"));
  CHECK_FALSE(matches("\"exchange rate*\"", "exchange ratio"));
}

TEST_CASE("a phrase matches across line breaks and runs of white space", "[matcher]") {
  CHECK(matches("\"rare earth\"", "rare\nearth magnets"));
  CHECK(matches("\"rare earth\"", "rare \r\n\t  earth magnets"));
  CHECK(matches("\"rare earth\"", "rare\u3000earth"));
  CHECK_FALSE(matches("\"rare earth\"", "rareearth"));
  CHECK_FALSE(matches("\"rare earth\"", "rare, earth"));
}

TEST_CASE("full-width and mixed-case Latin match", "[matcher]") {
  CHECK(matches("\"rare earth\"", "ＲＡＲＥ　ＥＡＲＴＨ prices"));
  CHECK(matches("\"rare earth\"", "RaRe EaRtH"));
  CHECK(matches("\"ＲＡＲＥ ＥＡＲＴＨ\"", "rare earth"));
  CHECK(matches("straße", "STRASSE closed"));
}

TEST_CASE("Simplified terms match Traditional text and the reverse", "[matcher]") {
  CHECK(matches("关键矿物", "美日簽署關鍵礦物協議"));
  CHECK(matches("關鍵礦物", "美日签署关键矿物协议"));
  CHECK(matches("中國", "中国商务部"));
}

TEST_CASE("invisible format characters inside a word do not break a match", "[matcher]") {
  CHECK(matches("稀土", "中國稀\u200b土出口"));
  CHECK(matches("export", "ex\u00adport ban"));
  CHECK(matches("gallium", "\ufeffgallium"));
}

TEST_CASE("a regex matches the normalized text, case-folded, with Han folded", "[matcher]") {
  CHECK(matches("/export (curb|restriction)s?/", "new EXPORT   Restrictions on chips"));
  CHECK_FALSE(matches("/export (curb|restriction)s?/", "export quotas"));
  CHECK(matches("/出口(管制|禁令)/", "宣布出口禁令"));
  CHECK(matches("/關鍵礦[物產]/", "关键矿产"));
  CHECK(matches("/\\d+ tonnes/", "shipped 4,500 tonnes of ore"));
  // No automatic boundaries around a regex.
  CHECK(matches("/port/", "export"));
}

TEST_CASE("case_sensitive rules match case as written, other folding still applies", "[matcher]") {
  auto set = lodestone::testing::rules(R"([[rule]]
id = "cs"
case_sensitive = true
match = 'US'
[[rule]]
id = "ci"
match = 'US'
)");
  using lodestone::testing::alerting;
  using lodestone::testing::post;
  CHECK(alerting(set, post({{"body", "the US economy"}})) == std::vector<std::string>{"cs", "ci"});
  CHECK(alerting(set, post({{"body", "join us today"}})) == std::vector<std::string>{"ci"});
  CHECK(alerting(set, post({{"body", "ＵＳ trade"}})) == std::vector<std::string>{"cs", "ci"});
}

TEST_CASE("fold_chinese = false keeps Traditional and Simplified apart", "[matcher]") {
  auto set = lodestone::testing::rules("[[rule]]\nid = \"r\"\nfold_chinese = false\nmatch = '關鍵礦物'\n");
  using lodestone::testing::alerting;
  using lodestone::testing::post;
  CHECK(alerting(set, post({{"body", "美日簽署關鍵礦物協議"}})).size() == 1);
  CHECK(alerting(set, post({{"body", "美日签署关键矿物协议"}})).empty());
}

TEST_CASE("the same term in many rules is compiled once", "[matcher]") {
  auto set = lodestone::testing::rules(R"([terms]
a = ["gallium", "Gallium", "GALLIUM"]
[[rule]]
id = "one"
match = '@a'
[[rule]]
id = "two"
match = 'gallium AND germanium'
)");
  CHECK(set->pattern_count() == 2);
  CHECK(lodestone::testing::alerting(set, lodestone::testing::post({{"body", "Gallium and germanium"}})) ==
        std::vector<std::string>{"one", "two"});
}

// The Matcher alone: what it hands the Evaluator for a post, before any boundary or query.

namespace {

using lodestone::Hit;
using lodestone::Matcher;
using lodestone::PostHits;

// The pattern that the term written `written` compiled to.
uint32_t pattern_of(const lodestone::RuleSet& set, std::string_view written) {
  for (const auto& t : set.data().terms) {
    if (t.written == written) return t.pattern;
  }
  FAIL("no term written " << written);
  return 0;
}

uint32_t rule_of(const lodestone::RuleSet& set, std::string_view id) {
  const auto& rules = set.data().rules;
  for (uint32_t r = 0; r < rules.size(); ++r) {
    if (rules[r].id == id) return r;
  }
  FAIL("no rule " << id);
  return 0;
}

// A pattern's hits in the order they were found (its chain is latest first).
std::vector<Hit> hits_of(const PostHits& hits, uint32_t pattern) {
  std::vector<Hit> out;
  for (uint32_t h = hits.chain(pattern); h != lodestone::kNoHit; h = hits.hit(h).next) {
    out.insert(out.begin(), hits.hit(h));
  }
  return out;
}

std::vector<uint32_t> ids(std::span<const uint32_t> s) { return {s.begin(), s.end()}; }

constexpr int kFolded = 0;  // the default form: case and Chinese folded, not the name form

}  // namespace

TEST_CASE("the matcher reports each hit's normalized byte span and whether word characters touch it", "[matcher]") {
  auto set = lodestone::testing::rules("[[rule]]\nid = \"r\"\nmatch = 'AI OR 稀土'\n");
  Matcher matcher(set->data());
  const auto p = lodestone::testing::post({{"body", "MAIL 台灣AI晶片 稀土"}});
  REQUIRE(matcher.match(p).ok());
  const PostHits& hits = matcher.hits();
  REQUIRE(hits.slots().size() == 1);
  CHECK(hits.slot(0).norm[kFolded].text == "mail 台湾ai晶片 稀土");
  const auto ai = hits_of(hits, pattern_of(*set, "AI"));
  REQUIRE(ai.size() == 2);
  // Inside MAIL: both ends touch letters. The Evaluator, not the Matcher, refuses this hit.
  CHECK((ai[0].slot == 0 && ai[0].start == 1 && ai[0].end == 3));
  CHECK((ai[0].prev_word && ai[0].next_word));
  // Between Han characters, which are not word characters; offsets count bytes.
  CHECK((ai[1].start == 11 && ai[1].end == 13));
  CHECK_FALSE((ai[1].prev_word || ai[1].next_word));
  const auto rare_earth = hits_of(hits, pattern_of(*set, "稀土"));
  REQUIRE(rare_earth.size() == 1);
  CHECK((rare_earth[0].start == 20 && rare_earth[0].end == 26));
  CHECK_FALSE(rare_earth[0].next_word);  // the end of the text
}

TEST_CASE("a literal's hit starts its length before its end, a regex's where Hyperscan says", "[matcher]") {
  auto set = lodestone::testing::rules("[[rule]]\nid = \"r\"\nmatch = '/ex(p|h)ort/ OR port'\n");
  Matcher matcher(set->data());
  const auto p = lodestone::testing::post({{"body", "to export"}});
  REQUIRE(matcher.match(p).ok());
  const auto regex = hits_of(matcher.hits(), pattern_of(*set, "/ex(p|h)ort/"));
  REQUIRE(regex.size() == 1);
  CHECK((regex[0].start == 3 && regex[0].end == 9));
  const auto literal = hits_of(matcher.hits(), pattern_of(*set, "port"));
  REQUIRE(literal.size() == 1);
  CHECK((literal[0].start == 5 && literal[0].end == 9 && literal[0].prev_word));
}

TEST_CASE("hit patterns are listed once in order of first hit, candidate rules in rule order", "[matcher]") {
  auto set = lodestone::testing::rules(R"([[rule]]
id = "germanium"
match = 'germanium'
[[rule]]
id = "gallium"
match = 'gallium'
[[rule]]
id = "both"
match = 'germanium gallium'
[[rule]]
id = "other"
match = 'cobalt'
)");
  Matcher matcher(set->data());
  const auto p = lodestone::testing::post({{"body", "gallium, germanium and gallium"}});
  REQUIRE(matcher.match(p).ok());
  const PostHits& hits = matcher.hits();
  CHECK(ids(hits.patterns()) == std::vector<uint32_t>{pattern_of(*set, "gallium"), pattern_of(*set, "germanium")});
  CHECK(hits_of(hits, pattern_of(*set, "gallium")).size() == 2);
  CHECK(hits.hits().size() == 3);
  CHECK(ids(hits.candidates()) ==
        std::vector<uint32_t>{rule_of(*set, "germanium"), rule_of(*set, "gallium"), rule_of(*set, "both")});
  CHECK_FALSE(hits.was_hit(pattern_of(*set, "cobalt")));
  CHECK(hits.chain(pattern_of(*set, "cobalt")) == lodestone::kNoHit);
}

TEST_CASE("a rule is a candidate only through a term outside NOT", "[matcher]") {
  auto set = lodestone::testing::rules(R"([[rule]]
id = "gallium-alone"
match = 'gallium NOT germanium'
[[rule]]
id = "germanium"
match = 'germanium'
)");
  Matcher matcher(set->data());
  const auto germanium = lodestone::testing::post({{"body", "germanium"}});
  REQUIRE(matcher.match(germanium).ok());
  CHECK(matcher.hits().was_hit(pattern_of(*set, "germanium")));
  CHECK(ids(matcher.hits().candidates()) == std::vector<uint32_t>{rule_of(*set, "germanium")});
}

TEST_CASE("the matcher scans non-empty fields in scope of some term, metadata only where named", "[matcher]") {
  auto title_only = lodestone::testing::rules("[[rule]]\nid = \"r\"\nmatch = 'title:稀土'\n");
  Matcher matcher(title_only->data());
  const auto p = lodestone::testing::post({{"body", "稀土"}, {"title", "稀土"}});
  REQUIRE(matcher.match(p).ok());
  REQUIRE(matcher.hits().slots().size() == 1);
  CHECK(matcher.hits().slot(0).post_field == 1);
  CHECK(matcher.hits().slot(0).field_id == title_only->data().field_id("title"));

  auto every_text = lodestone::testing::rules("[[rule]]\nid = \"r\"\nmatch = 'ptt'\n");
  Matcher text_matcher(every_text->data());
  const auto q = lodestone::testing::post({{"summary", ""}, {"url", "https://ptt.cc/"}, {"body", "ptt"}});
  REQUIRE(text_matcher.match(q).ok());
  const auto slots = text_matcher.hits().slots();
  REQUIRE(slots.size() == 1);
  CHECK((slots[0].post_field == 2 && slots[0].is_text));
}

TEST_CASE("fields are scanned without offset maps, and mapped() makes them from the same text", "[matcher]") {
  auto set = lodestone::testing::rules("[[rule]]\nid = \"r\"\nmatch = '\"rare earth\"'\n");
  Matcher matcher(set->data());
  const auto p = lodestone::testing::post({{"body", "ＲＡＲＥ\u3000Earth"}});
  REQUIRE(matcher.match(p).ok());
  const PostHits& hits = matcher.hits();
  CHECK_FALSE(hits.slot(0).norm[kFolded].maps);
  const auto found = hits_of(hits, pattern_of(*set, "\"rare earth\""));
  REQUIRE(found.size() == 1);
  const lodestone::NormalizedText& nt = hits.mapped(0, kFolded);
  CHECK(nt.maps);
  CHECK(nt.text == "rare earth");  // the text the hit's offsets are in is unchanged
  // The hit covers original code points [0, 10): four full-width letters, U+3000, "Earth".
  CHECK(nt.src_begin[found[0].start] == 0);
  CHECK(nt.src_end[found[0].end - 1] == 10);
  CHECK(nt.orig_byte[10] == 4 * 3 + 3 + 5);
}

TEST_CASE("an entity's names are matched in the name form, derived from the rule form's text", "[matcher]") {
  auto set = lodestone::testing::rules(R"([[entity]]
id = "bessent"
name = "Scott Bessent"
[[rule]]
id = "r"
match = '@bessent OR remarks'
)");
  const int name_form = kFolded | lodestone::NormalizeOptions::kNameFormBit;
  REQUIRE(set->data().databases[kFolded]);
  REQUIRE(set->data().databases[name_form]);
  Matcher matcher(set->data());
  const auto p = lodestone::testing::post({{"body", "SCOTT-BESSENT's remarks"}});
  REQUIRE(matcher.match(p).ok());
  const PostHits& hits = matcher.hits();
  CHECK(hits.slot(0).norm[kFolded].text == "scott-bessent's remarks");
  CHECK(hits.slot(0).norm[name_form].text == "scott bessent s remarks");
  const auto name = hits_of(hits, pattern_of(*set, "Scott Bessent"));
  REQUIRE(name.size() == 1);
  CHECK((name[0].start == 0 && name[0].end == 13 && !name[0].next_word));
  // Its maps lead back to the original text through the base form's.
  CHECK(hits.mapped(0, name_form).src_end[name[0].end - 1] == 13);
}

TEST_CASE("base_form() strips the name-form bit of NormalizeOptions::form()", "[matcher]") {
  for (bool fold_case : {true, false}) {
    for (bool fold_chinese : {true, false}) {
      const int base = lodestone::NormalizeOptions{fold_case, fold_chinese, false}.form();
      const int name = lodestone::NormalizeOptions{fold_case, fold_chinese, true}.form();
      CHECK(lodestone::is_name_form(name));
      CHECK_FALSE(lodestone::is_name_form(base));
      CHECK(lodestone::base_form(name) == base);
      CHECK(lodestone::base_form(base) == base);
    }
  }
}

TEST_CASE("one Matcher matches post after post, keeping nothing of the previous one", "[matcher]") {
  auto set = lodestone::testing::rules("[[rule]]\nid = \"r\"\nmatch = 'gallium'\n");
  Matcher matcher(set->data());
  const auto first = lodestone::testing::post({{"title", "gallium"}, {"body", "gallium"}});
  const auto second = lodestone::testing::post({{"body", "nothing here"}});
  REQUIRE(matcher.match(first).ok());
  const uint64_t serial = matcher.hits().serial();
  CHECK(matcher.hits().hits().size() == 2);
  REQUIRE(matcher.match(second).ok());
  const PostHits& hits = matcher.hits();
  CHECK(hits.serial() != serial);
  CHECK(hits.hits().empty());
  CHECK(hits.patterns().empty());
  CHECK(hits.candidates().empty());
  CHECK_FALSE(hits.was_hit(pattern_of(*set, "gallium")));
  CHECK(hits.slots().size() == 1);
  CHECK(&hits.post() == &second);
}

TEST_CASE("the fields of a post are scanned together, and no hit crosses from one field to the next", "[matcher]") {
  // Literals and a regex that cannot cross a field's end: the fields go through one hs_scan,
  // and each hit is reported in its own field's offsets.
  auto set = lodestone::testing::rules("[[rule]]\nid = \"r\"\nmatch = '\"rare earth\" OR /e[a-z]*h/ OR earth'\n");
  Matcher matcher(set->data());
  const auto p = lodestone::testing::post({{"title", "The rare"}, {"body", "earth is rare earth"}});
  REQUIRE(matcher.match(p).ok());
  const PostHits& hits = matcher.hits();
  REQUIRE(hits.slots().size() == 2);
  const auto phrase = hits_of(hits, pattern_of(*set, "\"rare earth\""));
  REQUIRE(phrase.size() == 1);  // not "rare" + "earth" across the title's end
  CHECK((phrase[0].slot == 1 && phrase[0].start == 9 && phrase[0].end == 19));
  CHECK_FALSE(phrase[0].prev_word);
  const auto regex = hits_of(hits, pattern_of(*set, "/e[a-z]*h/"));
  REQUIRE(regex.size() == 2);
  for (const auto& h : regex) CHECK(h.slot == 1);
  const auto word = hits_of(hits, pattern_of(*set, "earth"));
  REQUIRE(word.size() == 2);
  CHECK((word[0].slot == 1 && word[0].start == 0 && !word[0].prev_word));  // the body's start is an edge
}

TEST_CASE("a regex that could cross fields or sees a field's start keeps each field its own scan", "[matcher]") {
  // ^ anchors at each field's start, \s could match a separator: both behave as if each field
  // were scanned alone.
  auto set = lodestone::testing::rules("[[rule]]\nid = \"r\"\nmatch = '/^earth/ OR /rare\\s+earth/'\n");
  Matcher matcher(set->data());
  const auto p = lodestone::testing::post({{"title", "rare"}, {"body", "earth, rare  earth"}});
  REQUIRE(matcher.match(p).ok());
  const PostHits& hits = matcher.hits();
  const auto anchored = hits_of(hits, pattern_of(*set, "/^earth/"));
  REQUIRE(anchored.size() == 1);
  CHECK((anchored[0].slot == 1 && anchored[0].start == 0 && anchored[0].end == 5));
  const auto spaced = hits_of(hits, pattern_of(*set, "/rare\\s+earth/"));
  REQUIRE(spaced.size() == 1);
  CHECK((spaced[0].slot == 1 && spaced[0].start == 7));

  // A POSIX class alone in its form: [[:space:]] could match the separator too.
  auto posix_set = lodestone::testing::rules("[[rule]]\nid = \"r\"\nmatch = '/rare[[:space:]]earth/'\n");
  Matcher posix_matcher(posix_set->data());
  REQUIRE(posix_matcher.match(p).ok());
  const auto posix = hits_of(posix_matcher.hits(), pattern_of(*posix_set, "/rare[[:space:]]earth/"));
  REQUIRE(posix.size() == 1);  // not "rare" at the title's end with "earth" at the body's start
  CHECK((posix[0].slot == 1 && posix[0].start == 7));
}

TEST_CASE("a name form of a thousand names and more is scanned reversed, with every hit where it was", "[matcher]") {
  // The same names, once among 1,100 (the name form's database then holds them reversed) and
  // once alone (scanned forward): each gives the same hits, field by field and byte by byte.
  const std::vector<std::string> names = {"Trading Company 1", "Trading Company 17", "貝森特", "Café Noir",
                                          "Noir"};
  auto toml_of = [&](int padding) {
    std::string toml = "[[entity]]\nid = \"e\"\nname = \"Scott Bessent\"\naliases = [";
    for (const auto& n : names) toml += "\"" + n + "\", ";
    for (int i = 0; i < padding; ++i) toml += "\"Holding " + std::to_string(i) + " Limited\", ";
    return toml + "]\n[[rule]]\nid = \"r\"\nmatch = '@e'\n";
  };
  auto many = lodestone::testing::rules(toml_of(1100));
  auto few = lodestone::testing::rules(toml_of(0));
  const int name_form = kFolded | lodestone::NormalizeOptions::kNameFormBit;
  REQUIRE(many->data().databases[name_form]);
  CHECK(many->data().reversed[name_form]);
  CHECK_FALSE(few->data().reversed[name_form]);
  CHECK_FALSE(many->data().reversed[kFolded]);

  const auto p = lodestone::testing::post({{"title", "Trading Company 17 and 貝森特"},
                                           {"body", "SCOTT BESSENT met trading-company 1; CAFÉ NOIR. Holding 7 Limited"},
                                           {"summary", "noir"}});
  Matcher many_matcher(many->data());
  Matcher few_matcher(few->data());
  REQUIRE(many_matcher.match(p).ok());
  REQUIRE(few_matcher.match(p).ok());
  auto sorted_hits = [](const lodestone::RuleSet& set, const PostHits& hits, std::string_view name) {
    auto found = hits_of(hits, pattern_of(set, name));
    std::sort(found.begin(), found.end(), [](const Hit& a, const Hit& b) {
      return std::tie(a.slot, a.start, a.end) < std::tie(b.slot, b.start, b.end);
    });
    return found;
  };
  for (std::string_view name : {"Scott Bessent", "Trading Company 1", "Trading Company 17", "貝森特", "Café Noir", "Noir"}) {
    INFO(name);
    const auto reversed = sorted_hits(*many, many_matcher.hits(), name);
    const auto forward = sorted_hits(*few, few_matcher.hits(), name);
    REQUIRE(reversed.size() == forward.size());
    CHECK_FALSE(reversed.empty());
    for (size_t i = 0; i < reversed.size(); ++i) {
      CHECK(reversed[i].slot == forward[i].slot);
      CHECK(reversed[i].start == forward[i].start);
      CHECK(reversed[i].end == forward[i].end);
      CHECK(reversed[i].prev_word == forward[i].prev_word);
      CHECK(reversed[i].next_word == forward[i].next_word);
      // The bytes the hit covers are the name's, in its own field's text.
      const std::string& text = many_matcher.hits().slot(reversed[i].slot).norm[name_form].text;
      CHECK(text.substr(reversed[i].start, reversed[i].end - reversed[i].start) ==
            lodestone::Normalizer::instance().normalize(std::string(name), lodestone::NormalizeOptions::from_form(name_form)));
    }
  }
  // "Trading Company 1" inside "trading company 17": found, with a word character after it.
  const auto inside = sorted_hits(*many, many_matcher.hits(), "Trading Company 1");
  REQUIRE(inside.size() == 2);
  CHECK((inside[0].slot == 0 && inside[0].start == 0 && inside[0].next_word));
  CHECK((inside[1].slot == 1 && !inside[1].next_word));
  CHECK(sorted_hits(*many, many_matcher.hits(), "Holding 7 Limited").size() == 1);
  CHECK(lodestone::testing::alerting(many, p) == std::vector<std::string>{"r"});
}
