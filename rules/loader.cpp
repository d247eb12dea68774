// Reading rule files: TOML → definitions with places, with every key and type checked.
#include "rules/loader.h"

#include <algorithm>

namespace lodestone::rules {
namespace {

void read_tests(const RuleFile& file, Diagnostics& diags, const toml::node& node, RuleDef& rule) {
  const toml::table* tests = node.as_table();
  if (!tests) {
    file.error(diags, "wrong-type", place_of(node.source(), file.path),
               std::string("'tests' must be a table, not ") + type_name(node));
    return;
  }
  TableReader reader(file, diags, *tests, "[rule.tests]", {"match", "no_match"});
  for (const char* key : {"match", "no_match"}) {
    const toml::node* list = tests->get(key);
    if (!list) continue;
    const toml::array* arr = list->as_array();
    if (!arr) {
      reader.type_error(*list, key, "an array of strings or tables of fields");
      continue;
    }
    for (const toml::node& item : *arr) {
      RuleTestDef test;
      test.expect_match = std::string_view(key) == "match";
      test.place = place_of(item.source(), file.path);
      if (item.is_string()) {
        test.fields.emplace_back("", *item.value<std::string>());
      } else if (const toml::table* post = item.as_table()) {
        for (auto&& [field, text] : *post) {
          if (!text.is_string()) {
            file.error(diags, "wrong-type", place_of(text.source(), file.path),
                       "test field '" + std::string(field.str()) + "' must be a string, not " + type_name(text));
            continue;
          }
          test.fields.emplace_back(std::string(field.str()), *text.value<std::string>());
        }
        if (test.fields.empty()) {
          file.error(diags, "empty-test", test.place, "a test post needs at least one field");
          continue;
        }
      } else {
        file.error(diags, "wrong-type", test.place,
                   std::string("a test must be a string or a table of fields, not ") + type_name(item));
        continue;
      }
      rule.tests.push_back(std::move(test));
    }
  }
}

void read_rule(const RuleFile& file, Diagnostics& diags, const toml::table& t, RuleFile& out) {
  RuleDef rule;
  rule.place = place_of(t.source(), file.path);
  TableReader r(
      file, diags, t, "[[rule]]",
      {"id", "title", "severity", "match", "fields", "notify", "tags", "case_sensitive", "fold_chinese", "tests"});
  bool ok = true;
  if (!r.string("id", rule.id)) {
    if (!t.get("id")) file.error(diags, "missing-key", rule.place, "[[rule]] needs an 'id'");
    ok = false;
  } else if (!is_valid_id(rule.id.value)) {
    file.error(diags, "bad-id", rule.id.place, "rule id '" + rule.id.value + "' must match [a-z0-9][a-z0-9._-]*");
    ok = false;
  }
  if (!r.string("match", rule.match)) {
    if (!t.get("match")) {
      file.error(diags, "missing-key", rule.place, "rule '" + rule.id.value + "' needs a 'match' query");
    }
    ok = false;
  }
  r.string("title", rule.title);
  if (r.string("severity", rule.severity)) {
    static const std::vector<std::string> kSeverities = {"info", "low", "medium", "high", "critical"};
    if (std::find(kSeverities.begin(), kSeverities.end(), rule.severity.value) == kSeverities.end()) {
      std::string msg = "severity '" + rule.severity.value + "' is not one of info, low, medium, high, critical";
      if (auto near = did_you_mean(rule.severity.value, kSeverities)) msg += " (did you mean '" + *near + "'?)";
      file.error(diags, "bad-value", rule.severity.place, msg);
      ok = false;
    }
  } else {
    rule.severity.value = "medium";
  }
  rule.has_fields = r.strings("fields", rule.fields, true);
  if (rule.has_fields && rule.fields.empty()) {
    file.error(diags, "bad-value", place_of(t.get("fields")->source(), file.path),
               "'fields' must name at least one field");
    ok = false;
  }
  r.strings("notify", rule.notify, true);
  r.strings("tags", rule.tags, true);
  r.boolean("case_sensitive", rule.case_sensitive);
  r.boolean("fold_chinese", rule.fold_chinese);
  if (const toml::node* tests = t.get("tests")) read_tests(file, diags, *tests, rule);
  if (ok) out.rules.push_back(std::move(rule));
}

void read_entity(const RuleFile& file, Diagnostics& diags, const toml::table& t, RuleFile& out) {
  EntityDef e;
  e.place = place_of(t.source(), file.path);
  TableReader r(file, diags, t, "[[entity]]", {"id", "name", "kind", "aliases"});
  bool ok = true;
  if (!r.string("id", e.id)) {
    if (!t.get("id")) file.error(diags, "missing-key", e.place, "[[entity]] needs an 'id'");
    ok = false;
  } else if (!is_valid_id(e.id.value)) {
    file.error(diags, "bad-id", e.id.place, "entity id '" + e.id.value + "' must match [a-z0-9][a-z0-9._-]*");
    ok = false;
  }
  if (!r.string("name", e.name)) {
    if (!t.get("name")) file.error(diags, "missing-key", e.place, "entity '" + e.id.value + "' needs a 'name'");
    ok = false;
  }
  Located kind;
  if (r.string("kind", kind)) e.kind = kind.value;
  r.strings("aliases", e.aliases);
  if (ok) out.entities.push_back(std::move(e));
}

void read_document(RuleFile& file, Diagnostics& diags, const toml::table& doc) {
  TableReader top(file, diags, doc, "a rule file", {"terms", "entity", "rule"});
  if (const toml::node* terms = doc.get("terms")) {
    if (const toml::table* t = terms->as_table()) {
      for (auto&& [key, node] : *t) {
        TermListDef list;
        list.name = std::string(key.str());
        list.place = place_of(key.source(), file.path);
        if (!top.strings_of(node, list.name, list.terms, false)) continue;
        if (list.terms.empty()) {
          file.error(diags, "empty-list", list.place, "term list '" + list.name + "' is empty");
          continue;
        }
        file.term_lists.push_back(std::move(list));
      }
    } else {
      top.type_error(*terms, "terms", "a table of term lists");
    }
  }
  for (const char* kind : {"entity", "rule"}) {
    const toml::node* n = doc.get(kind);
    if (!n) continue;
    const toml::array* arr = n->as_array();
    if (!arr || !arr->is_array_of_tables()) {
      top.type_error(*n, kind,
                     kind == std::string("rule") ? "an array of tables, written [[rule]]"
                                                 : "an array of tables, written [[entity]]");
      continue;
    }
    for (const toml::node& item : *arr) {
      if (kind == std::string("rule")) {
        read_rule(file, diags, *item.as_table(), file);
      } else {
        read_entity(file, diags, *item.as_table(), file);
      }
    }
  }
}

}  // namespace

std::optional<RuleFile> read_rule_text(std::string_view text, const std::string& name, Diagnostics& diags) {
  RuleFile file;
  file.path = name;
  auto doc = parse_toml(file, text, diags);
  if (!doc) return std::nullopt;
  read_document(file, diags, *doc);
  return file;
}

std::optional<RuleFile> read_rule_file(const std::string& path, Diagnostics& diags) {
  std::string text;
  if (!read_text_file(path, text)) {
    diags.error("unreadable", {path, 0, 0}, "cannot read rule file");
    return std::nullopt;
  }
  return read_rule_text(text, path, diags);
}

bool is_valid_id(const std::string& id) {
  if (id.empty()) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(id[0])) return false;
  return std::all_of(id.begin(), id.end(), [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

}  // namespace lodestone::rules
