// Tests for [[entities]] lists: columns, joins, name order, filters, exclusions, malformed rows,
// and what alerts say about the entity that matched. Fixtures: tests/data/lists/.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "rules/compiled.h"
#include "rules/entity_list.h"
#include "support/rules.h"

using namespace lodestone;
using namespace lodestone::testing;

namespace {

const std::string kListDir = std::string(LODESTONE_TEST_DATA) + "/lists/";

// Loads inline TOML as if it were a file in tests/data/lists/, so list paths are relative to it.
LoadResult load(const std::string& toml) { return load_rule_set_from_string(toml, kListDir + "rules.toml"); }

std::shared_ptr<const RuleSet> load_ok(const std::string& toml) {
  LoadResult r = load(toml);
  INFO(format_diagnostics(r.diagnostics));
  REQUIRE(r.rule_set);
  return r.rule_set;
}

const std::string kSdn = R"(
[[entities]]
id = "sdn"
file = "sdn.csv"
id_column = 1
name_column = 2
kind_column = 3
kind = "entity"
empty = "-0-"
alias_file = "alt.csv"
alias_id_column = 1
alias_name_column = 4
name_order = "last_first"
name_order_kinds = ["individual"]
min_alias_length = 3
stoplist = ["the base"]
)";

std::string with_rule(const std::string& lists, const std::string& query) {
  return lists + "\n[[rule]]\nid = \"r\"\nmatch = '''" + query + "'''\n";
}

const compiled::EntityListInfo& list_info(const RuleSet& set, const std::string& id) {
  const auto& lists = set.data().entity_lists;
  auto it = std::find_if(lists.begin(), lists.end(), [&](const auto& l) { return l.id == id; });
  REQUIRE(it != lists.end());
  return *it;
}

size_t skipped(const std::vector<std::pair<std::string, size_t>>& counts, const std::string& prefix) {
  size_t n = 0;
  for (const auto& [why, count] : counts) n += why.rfind(prefix, 0) == 0 ? count : 0;
  return n;
}

// The entity ids of the alerts of a one-rule set on a body.
std::vector<std::string> entities_in(const std::shared_ptr<const RuleSet>& set, const std::string& body) {
  std::vector<std::string> ids;
  for (const auto& a : alerts(set, post({{"body", body}}))) {
    for (const auto& e : a.entities) ids.push_back(e.id);
  }
  return ids;
}

}  // namespace

TEST_CASE("a CSV list with an alias file loads, counting every row loaded and skipped", "[entities]") {
  LoadResult r = load(with_rule(kSdn, "@sdn"));
  INFO(format_diagnostics(r.diagnostics));
  REQUIRE(r.rule_set);
  const auto& info = list_info(*r.rule_set, "sdn");
  CHECK(info.rows == 12 + 7);
  // 1 AL QA'IDA, 2 BIN LADIN, 3 ANGLO-CARIBBEAN, 4 ZHANG, 5 APPLE, 7 DOVE, 10 ROSNEFT; 6 "X" is
  // too short and so has no name left.
  CHECK(info.entities == 7);
  CHECK(info.skipped_entities == 1);
  CHECK(skipped(info.skipped_rows, "no id") == 1);
  CHECK(skipped(info.skipped_rows, "text after a closing quote") == 1);
  CHECK(skipped(info.skipped_rows, "has 1 column") == 1);
  CHECK(skipped(info.skipped_rows, "id '2' is repeated") == 1);
  CHECK(skipped(info.skipped_rows, "an alias of an id not in the list") == 1);
  CHECK(info.skipped_row_count() == 5);
  // "X" and "AB"; 張偉 is two wide characters, 4 columns, so it stays.
  CHECK(skipped(info.skipped_names, "shorter than min_alias_length") == 2);
  CHECK(skipped(info.skipped_names, "in the stoplist") == 1);                // "THE BASE"
  // Reorderings of the two individuals' "LAST, First" names: BIN LADIN ×2, ZHANG.
  CHECK(info.reordered == 3);
  // AL-QAIDA, BIN LADEN, 張偉, ROSNEFT (ORPHAN ALIAS has no entity; THE BASE and AB are skipped).
  CHECK(info.aliases == 4);
  CHECK(info.names == info.entities + info.aliases + info.reordered);

  // Each skipped row is a warning at its file and line; the load goes on.
  const std::string diags = format_diagnostics(r.diagnostics);
  CHECK(diags.find("sdn.csv:8:1: warning: row skipped: no id (column 1)") != std::string::npos);
  CHECK(diags.find("sdn.csv:9:1: warning: row skipped: text after a closing quote") != std::string::npos);
  CHECK(diags.find("sdn.csv:10:1: warning: row skipped: has 1 column, fewer than column 2 needs") !=
        std::string::npos);
  CHECK(diags.find("sdn.csv:11:1: warning: row skipped: id '2' is repeated (first at line 2)") != std::string::npos);
  CHECK(diags.find("alt.csv:5:1: warning: row skipped: an alias of an id not in the list") != std::string::npos);
  CHECK_FALSE(r.diagnostics.has_errors());
}

TEST_CASE("an alert names the entity, its kind, its list and the alias as written in the list", "[entities]") {
  auto set = load_ok(with_rule(kSdn, "@sdn"));
  auto found = alerts(set, post({{"body", "Officials said Al Qaida was behind it."}}));
  REQUIRE(found.size() == 1);
  REQUIRE(found[0].entities.size() == 1);
  const AlertEntity& e = found[0].entities[0];
  CHECK(e.id == "1");
  CHECK(e.name == "AL QA'IDA");
  CHECK(e.kind == "entity");
  CHECK(e.list == "sdn");
  CHECK(e.alias == "AL QA'IDA");
  REQUIRE(found[0].matches.size() == 1);
  CHECK(found[0].matches[0].text == "Al Qaida");
  CHECK(found[0].matches[0].entity == "1");
  CHECK(found[0].matches[0].entity_list == "sdn");
  const std::string json = to_json(found[0]);
  CHECK(json.find(R"("entities":[{"id":"1","name":"AL QA'IDA","kind":"entity","list":"sdn","alias":"AL QA'IDA"}])") !=
        std::string::npos);
  CHECK(json.find(R"("entity":"1","list":"sdn")") != std::string::npos);

  // The alias file's alias, as written there.
  found = alerts(set, post({{"body", "Shares of Rosneft fell."}}));
  REQUIRE(found.size() == 1);
  REQUIRE(found[0].entities.size() == 1);
  CHECK(found[0].entities[0].id == "10");
  CHECK(found[0].entities[0].alias == "ROSNEFT");
}

TEST_CASE("punctuation and spacing variants of a listed name match each other", "[entities]") {
  auto set = load_ok(with_rule(kSdn, "@sdn"));
  // Each variant is matched whole (not only by a shorter alias inside it).
  for (const char* text : {"AL QA'IDA", "Al-Qa'ida", "al qaida", "AL-QAIDA", "Al\u2011Qa\u2019ida", "al  -  qaida",
                           "Anglo Caribbean Co Ltd", "ANGLO-CARIBBEAN CO. LTD", "Rosneft Trading SA",
                           "Rosneft Trading S.A."}) {
    INFO(text);
    auto found = alerts(set, post({{"body", text}}));
    REQUIRE(found.size() == 1);
    std::string whole = text;
    if (whole.back() == '.') whole.pop_back();  // a final period is not part of the name's span
    CHECK(found[0].matches[0].text == whole);
  }
  auto found = alerts(set, post({{"body", "al-Qaida's leaders"}}));
  REQUIRE(found.size() == 1);
  CHECK(found[0].matches[0].text == "al-Qaida");
  // Not a variant: letters joined or split differently, or the name inside a longer word.
  for (const char* text : {"alqaida", "al qa ida", "Rosneftegaz", "DOVETAIL", "pineapple"}) {
    INFO(text);
    CHECK(entities_in(set, text).empty());
  }
}

TEST_CASE("name_order = last_first matches 'LAST, First' both ways, only for the kinds named", "[entities]") {
  auto set = load_ok(with_rule(kSdn, "@sdn"));
  CHECK(entities_in(set, "Usama bin Muhammad Bin Ladin spoke") == std::vector<std::string>{"2"});
  CHECK(entities_in(set, "BIN LADIN, Usama bin Muhammad spoke") == std::vector<std::string>{"2"});
  CHECK(entities_in(set, "a tape of Osama bin Laden") == std::vector<std::string>{"2"});
  auto found = alerts(set, post({{"body", "Osama Bin Laden"}}));
  REQUIRE(found.size() == 1);
  CHECK(found[0].entities[0].alias == "BIN LADEN, Osama");  // as written, not as reordered
  // An entity (not an individual) with a comma is not reordered.
  CHECK(entities_in(set, "LTD. ANGLO-CARIBBEAN CO").empty());
}

TEST_CASE("Traditional, Simplified and full-width forms of a listed name match", "[entities]") {
  auto set = load_ok(with_rule(kSdn, "@sdn"));
  CHECK(entities_in(set, "报道称张伟表示") == std::vector<std::string>{"4"});
  CHECK(entities_in(set, "報導稱張偉表示") == std::vector<std::string>{"4"});
  CHECK(entities_in(set, "ＺＨＡＮＧ，ＷＥＩ") == std::vector<std::string>{"4"});
  CHECK(entities_in(set, "Wei Zhang said") == std::vector<std::string>{"4"});
}

TEST_CASE("TSV with a header row: columns by name, aliases split by a separator", "[entities]") {
  auto set = load_ok(with_rule(R"(
[[entities]]
id = "officials"
file = "officials.tsv"
header = true
id_column = "id"
name_column = "full_name"
kind_column = "type"
alias_column = "aliases"
alias_separator = ";"
)",
                               "@officials"));
  const auto& info = list_info(*set, "officials");
  CHECK(info.entities == 3);
  CHECK(skipped(info.skipped_rows, "no id") == 1);
  CHECK(entities_in(set, "Treasury Secretary Bessent said") == std::vector<std::string>{"scott-bessent"});
  CHECK(entities_in(set, "美國財長史考特·貝森特表示") == std::vector<std::string>{"scott-bessent"});
  CHECK(entities_in(set, "美国财长史考特贝森特表示") == std::vector<std::string>{"scott-bessent"});
  CHECK(entities_in(set, "商务部长王文涛") == std::vector<std::string>{"wang-wentao"});
  CHECK(entities_in(set, "Minister Wang Wentao") == std::vector<std::string>{"wang-wentao"});
  auto found = alerts(set, post({{"body", "Lutnick"}}));
  CHECK(found.empty());  // only "Howard Lutnick" is a name of his
  found = alerts(set, post({{"body", "Howard Lutnick said"}}));
  REQUIRE(found.size() == 1);
  CHECK(found[0].entities[0].kind == "person");
}

TEST_CASE("a JSONL list: keys, numbers as ids, alias arrays, bad lines skipped", "[entities]") {
  LoadResult r = load(with_rule(R"(
[[entities]]
id = "ministers"
file = "ministers.jsonl"
id_column = "id"
name_column = "name"
kind_column = "kind"
alias_column = "aliases"
kind = "official"
)",
                                "@ministers"));
  INFO(format_diagnostics(r.diagnostics));
  REQUIRE(r.rule_set);
  const auto& info = list_info(*r.rule_set, "ministers");
  CHECK(info.entities == 2);
  CHECK(skipped(info.skipped_rows, "not valid JSON") == 1);
  CHECK(skipped(info.skipped_rows, "no name") == 1);
  CHECK(skipped(info.skipped_rows, "not a JSON object") == 1);
  const std::string diags = format_diagnostics(r.diagnostics);
  CHECK(diags.find("ministers.jsonl:3:1: warning: row skipped: not valid JSON") != std::string::npos);
  auto found = alerts(r.rule_set, post({{"body", "副总理何立峰与李成钢会面"}}));
  REQUIRE(found.size() == 1);
  REQUIRE(found[0].entities.size() == 2);
  CHECK(found[0].entities[0].id == "he-lifeng");
  CHECK(found[0].entities[0].kind == "person");
  CHECK(found[0].entities[1].id == "42");
  CHECK(found[0].entities[1].kind == "official");
  CHECK(found[0].entities[1].alias == "李成鋼");
}

TEST_CASE("a stray quote or invalid UTF-8 loses only its own row", "[entities]") {
  LoadResult r = load(with_rule(R"(
[[entities]]
id = "messy"
file = "messy.csv"
id_column = 1
name_column = 2
)",
                                "@messy"));
  INFO(format_diagnostics(r.diagnostics));
  REQUIRE(r.rule_set);
  const auto& info = list_info(*r.rule_set, "messy");
  CHECK(info.entities == 1);
  CHECK(skipped(info.skipped_rows, "a quote is not closed on its line") == 1);
  CHECK(skipped(info.skipped_rows, "not valid UTF-8") == 1);
  CHECK(format_diagnostics(r.diagnostics).find("messy.csv:1:1: warning") != std::string::npos);
  CHECK(entities_in(r.rule_set, "Fine Co") == std::vector<std::string>{"2"});
}

TEST_CASE("exclude phrases: an occurrence inside one does not count, one elsewhere does", "[entities]") {
  auto set = load_ok(with_rule(kSdn + R"(
[entities.exclude]
"5" = ["apple pie", "Big Apple"]
"7" = ["dove soap"]
)",
                               "@sdn"));
  CHECK(entities_in(set, "a recipe for apple pie").empty());
  CHECK(entities_in(set, "tourists in the Big Apple").empty());
  CHECK(entities_in(set, "Dove Soap sales").empty());
  CHECK(entities_in(set, "the vessel Apple docked; apple pie was served") == std::vector<std::string>{"5"});
  CHECK(entities_in(set, "the vessel DOVE") == std::vector<std::string>{"7"});
  // Only the occurrence outside the phrase is reported.
  auto found = alerts(set, post({{"body", "apple pie on the Apple"}}));
  REQUIRE(found.size() == 1);
  REQUIRE(found[0].matches.size() == 1);
  CHECK(found[0].matches[0].start == 17);
}

TEST_CASE("[[entity]] takes exclude phrases too", "[entities]") {
  auto set = testing::rules(R"(
[[entity]]
id = "li-qiang"
name = "Li Qiang"
exclude = ["Li Qiang Road"]

[[rule]]
id = "r"
match = "@li-qiang"
)");
  CHECK(alerting(set, post({{"body", "Premier Li Qiang said"}})).size() == 1);
  CHECK(alerting(set, post({{"body", "a shop on Li Qiang Road"}})).empty());
}

TEST_CASE("list queries: AND with other terms, ATLEAST counts different entities, NEAR", "[entities]") {
  auto set = load_ok(kSdn + R"(
[terms]
export_controls = ["export control*", "出口管制"]

[[rule]]
id = "sanctioned-and-controls"
match = '@sdn AND (@export_controls OR sanction*)'

[[rule]]
id = "two-entities"
match = 'ATLEAST(2, @sdn)'

[[rule]]
id = "near"
match = '@sdn NEAR/5 sanction*'
)");
  CHECK(alerting(set, post({{"body", "New sanctions on Rosneft"}})) ==
        std::vector<std::string>{"sanctioned-and-controls", "near"});
  CHECK(alerting(set, post({{"body", "Rosneft and export controls, far from anything else about it"}})) ==
        std::vector<std::string>{"sanctioned-and-controls"});
  CHECK(alerting(set, post({{"body", "Rosneft"}})).empty());
  // Two names of one entity are one entity; two entities are two.
  CHECK(alerting(set, post({{"body", "Al Qaida, also AL-QAIDA"}})).empty());
  CHECK(alerting(set, post({{"body", "Al Qaida and Rosneft"}})) == std::vector<std::string>{"two-entities"});
  // NEAR counts characters of text between, across the name form and the rule's form.
  CHECK(alerting(set, post({{"body", "Rosneft's sanctions"}})).size() == 2);
  CHECK(alerting(set, post({{"body", "Rosneft, a firm with sanctions"}})) ==
        std::vector<std::string>{"sanctioned-and-controls"});
}

TEST_CASE("a name shared by two entities names both in the alert", "[entities]") {
  auto set = load_ok(R"(
[[entities]]
id = "a"
file = "officials.tsv"
header = true
id_column = "id"
name_column = "full_name"

[[entity]]
id = "treasury-chief"
name = "Scott Bessent"

[[rule]]
id = "r"
match = "@a OR @treasury-chief"
)");
  auto found = alerts(set, post({{"body", "Scott Bessent said"}}));
  REQUIRE(found.size() == 1);
  REQUIRE(found[0].entities.size() == 2);
  CHECK(found[0].matches.size() == 2);
}

TEST_CASE("mistakes in [[entities]] are errors at their place", "[entities]") {
  auto errors = [](const std::string& toml) {
    LoadResult r = load(toml);
    CHECK_FALSE(r.rule_set);
    return format_diagnostics(r.diagnostics);
  };
  CHECK_THAT(errors(with_rule("[[entities]]\nid = \"x\"\nfile = \"missing.csv\"\nid_column = 1\nname_column = 2\n",
                              "@x")),
             Catch::Contains("rules.toml:3:8: error: cannot read list file"));
  CHECK_THAT(errors(with_rule("[[entities]]\nid = \"x\"\nfile = \"/dev/zero\"\nid_column = 1\nname_column = 2\n",
                              "@x")),
             Catch::Contains("rules.toml:3:8: error: list file '/dev/zero' is not a regular file"));
  CHECK_THAT(errors(with_rule("[[entities]]\nid = \"x\"\nfile = \"officials.tsv\"\nheader = true\nid_column = "
                              "\"ident\"\nname_column = \"full_name\"\n",
                              "@x")),
             Catch::Contains("rules.toml:5:13: error: column 'ident' is not in the header of 'officials.tsv'"));
  CHECK_THAT(errors(with_rule("[[entities]]\nid = \"x\"\nfile = \"sdn.csv\"\nid_column = 1\nname_column = \"name\"\n",
                              "@x")),
             Catch::Contains("has no header row"));
  CHECK_THAT(errors(with_rule("[[entities]]\nid = \"x\"\nfile = \"sdn.csv\"\nid_column = 0\nname_column = 2\n", "@x")),
             Catch::Contains("'id_column' counts columns from 1"));
  CHECK_THAT(errors(with_rule("[[entities]]\nid = \"x\"\nfile = \"sdn.csv\"\nid_colum = 1\nname_column = 2\n", "@x")),
             Catch::Contains("did you mean 'id_column'"));
  CHECK_THAT(errors(with_rule("[[entities]]\nid = \"x\"\nfile = \"sdn.csv\"\nid_column = 1\nname_column = 2\n"
                              "name_order = \"first_last\"\n",
                              "@x")),
             Catch::Contains("name_order 'first_last' is not one of as_written, last_first"));
  CHECK_THAT(errors(with_rule("[[entities]]\nid = \"x\"\nfile = \"sdn.csv\"\nid_column = 1\nname_column = 2\n"
                              "[[entity]]\nid = \"x\"\nname = \"X\"\n",
                              "@x")),
             Catch::Contains("id 'x' is also defined at"));
  CHECK_THAT(errors(with_rule("[[entities]]\nid = \"sdn\"\nfile = \"sdn.csv\"\nid_column = 1\nname_column = 2\n",
                              "@sdm")),
             Catch::Contains("did you mean '@sdn'?"));
}

TEST_CASE("kinds = [...] loads only entities of those kinds, and leaves their aliases out quietly", "[entities]") {
  LoadResult r = load(with_rule(kSdn + "kinds = [\"individual\", \"entity\"]\n", "@sdn"));
  INFO(format_diagnostics(r.diagnostics));
  REQUIRE(r.rule_set);
  const auto& info = list_info(*r.rule_set, "sdn");
  // The vessels APPLE, X and DOVE (with its alias AB) are left out.
  CHECK(info.entities == 5);
  CHECK(skipped(info.skipped_rows, "kind not in 'kinds'") == 3);
  CHECK(skipped(info.skipped_rows, "an alias of an entity whose kind") == 1);
  CHECK(format_diagnostics(r.diagnostics).find("alt.csv:7") == std::string::npos);
  CHECK(entities_in(r.rule_set, "the vessel DOVE").empty());
  CHECK(entities_in(r.rule_set, "Rosneft") == std::vector<std::string>{"10"});
}

TEST_CASE("reorder_last_first takes exactly one comma with text on both sides", "[entities]") {
  CHECK(rules::reorder_last_first("BIN LADIN, Usama") == "Usama BIN LADIN");
  CHECK(rules::reorder_last_first("  ZHANG ,Wei ") == "Wei ZHANG");
  CHECK(rules::reorder_last_first("ACME, INC., LTD").empty());
  CHECK(rules::reorder_last_first("NO COMMA").empty());
  CHECK(rules::reorder_last_first(", First").empty());
}
