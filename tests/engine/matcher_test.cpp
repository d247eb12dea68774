// Matching terms in text: Unicode folding, word boundaries, prefixes, phrases and regexes.
#include <catch2/catch.hpp>

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
