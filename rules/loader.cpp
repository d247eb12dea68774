// Reading rule files: TOML → definitions with places, with every key and type checked.
#include "rules/loader.h"

#include <algorithm>
#include <filesystem>

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
        for (auto&& [field, value] : *post) {
          const std::string name(field.str());
          if (name == "source" && value.is_string()) {
            test.source = *value.value<std::string>();
          } else if (value.is_string()) {
            test.fields.emplace_back(name, *value.value<std::string>());
          } else if (value.is_integer() || value.is_floating_point()) {
            test.numbers.emplace_back(name, *value.value<double>());
          } else {
            file.error(diags, "wrong-type", place_of(value.source(), file.path),
                       "test field '" + name + "' must be a string or a number, not " + type_name(value));
          }
        }
        if (test.fields.empty() && test.numbers.empty()) {
          file.error(diags, "empty-test", test.place, "a test post needs at least one field or number");
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
      {"id", "title", "severity", "match", "fields", "notify", "tags", "case_sensitive", "fold_chinese", "tests",
       "max_alerts_per_hour", "sources"});
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
  if (r.integer("max_alerts_per_hour", rule.max_alerts_per_hour) && rule.max_alerts_per_hour <= 0) {
    file.error(diags, "bad-value", place_of(t.get("max_alerts_per_hour")->source(), file.path),
               "max_alerts_per_hour must be above 0 (leave it out for no limit)");
    ok = false;
  }
  r.strings("tags", rule.tags, true);
  if (r.strings("sources", rule.sources, true)) {
    for (const Located& glob : rule.sources) {
      if (glob.value.empty()) {
        file.error(diags, "bad-value", glob.place, "a source glob cannot be empty");
        ok = false;
      }
    }
  }
  r.boolean("case_sensitive", rule.case_sensitive);
  r.boolean("fold_chinese", rule.fold_chinese);
  if (const toml::node* tests = t.get("tests")) read_tests(file, diags, *tests, rule);
  if (ok) out.rules.push_back(std::move(rule));
}

void read_entity(const RuleFile& file, Diagnostics& diags, const toml::table& t, RuleFile& out) {
  EntityDef e;
  e.place = place_of(t.source(), file.path);
  TableReader r(file, diags, t, "[[entity]]", {"id", "name", "kind", "aliases", "exclude"});
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
  r.strings("exclude", e.exclude, true);
  if (ok) out.entities.push_back(std::move(e));
}

// A column: a 1-based number, or a name (a CSV/TSV header's, a JSONL key).
bool read_column(const RuleFile& file, Diagnostics& diags, const TableReader& r, const char* key, ColumnRef& out) {
  const toml::node* n = r.get(key);
  if (!n) return false;
  out.place = place_of(n->source(), file.path);
  if (n->is_integer()) {
    const int64_t v = *n->value<int64_t>();
    if (v < 1 || v > 10000) {
      file.error(diags, "bad-value", out.place, std::string("'") + key + "' counts columns from 1");
      return false;
    }
    out.number = static_cast<int>(v);
    return true;
  }
  if (n->is_string() && !n->value<std::string>()->empty()) {
    out.key = *n->value<std::string>();
    return true;
  }
  r.type_error(*n, key, "a column number (from 1) or a column name");
  return false;
}

// `file`, `format` and `header` (under a prefix: "" or "alias_") of a list file.
bool read_list_file(const RuleFile& file, Diagnostics& diags, const TableReader& r, const std::string& prefix,
                    ListFileDef& out) {
  if (!r.string((prefix + "file").c_str(), out.file)) return false;
  namespace fs = std::filesystem;
  fs::path p(out.file.value);
  if (p.is_relative()) p = fs::path(file.path).parent_path() / p;
  out.path = p.lexically_normal().string();
  Located format;
  if (r.string((prefix + "format").c_str(), format)) {
    out.format = format.value;
    if (out.format != "csv" && out.format != "tsv" && out.format != "jsonl") {
      file.error(diags, "bad-value", format.place, "format '" + out.format + "' is not one of csv, tsv, jsonl");
      return false;
    }
  } else {
    const std::string ext = p.extension().string();
    out.format = ext == ".tsv" || ext == ".tab"                     ? "tsv"
                 : ext == ".jsonl" || ext == ".ndjson" || ext == ".json" ? "jsonl"
                                                                   : "csv";
  }
  r.boolean((prefix + "header").c_str(), out.header);
  return true;
}

void read_entity_list(const RuleFile& file, Diagnostics& diags, const toml::table& t, RuleFile& out) {
  EntityListDef e;
  e.place = place_of(t.source(), file.path);
  TableReader r(file, diags, t, "[[entities]]",
                {"id", "file", "format", "header", "id_column", "name_column", "kind_column", "kind", "alias_column",
                 "alias_separator", "empty", "alias_file", "alias_format", "alias_header", "alias_id_column",
                 "alias_name_column", "name_order", "name_order_kinds", "min_alias_length", "stoplist", "exclude",
                 "kinds"});
  bool ok = true;
  auto missing = [&](const char* key, const std::string& why) {
    if (!t.get(key)) file.error(diags, "missing-key", e.place, "[[entities]] needs " + why);
    ok = false;
  };
  if (!r.string("id", e.id)) {
    missing("id", "an 'id', used as @id in queries");
  } else if (!is_valid_id(e.id.value)) {
    file.error(diags, "bad-id", e.id.place, "entity list id '" + e.id.value + "' must match [a-z0-9][a-z0-9._-]*");
    ok = false;
  }
  if (!read_list_file(file, diags, r, "", e.main)) missing("file", "a 'file' (CSV, TSV or JSONL)");
  if (!read_column(file, diags, r, "id_column", e.id_column)) missing("id_column", "an 'id_column'");
  if (!read_column(file, diags, r, "name_column", e.name_column)) missing("name_column", "a 'name_column'");
  read_column(file, diags, r, "kind_column", e.kind_column);
  read_column(file, diags, r, "alias_column", e.alias_column);
  Located text;
  if (r.string("alias_separator", text)) e.alias_separator = text.value;
  if (r.string("kind", text)) e.default_kind = text.value;
  std::vector<Located> values;
  if (r.strings("empty", values, true)) {
    for (auto& v : values) e.empty_values.push_back(v.value);
  }
  if (t.get("alias_file")) {
    e.has_alias_file = read_list_file(file, diags, r, "alias_", e.aliases);
    if (!e.has_alias_file) ok = false;
    if (!read_column(file, diags, r, "alias_id_column", e.alias_id_column)) {
      missing("alias_id_column", "an 'alias_id_column' with its 'alias_file'");
    }
    if (!read_column(file, diags, r, "alias_name_column", e.alias_name_column)) {
      missing("alias_name_column", "an 'alias_name_column' with its 'alias_file'");
    }
  } else {
    for (const char* key : {"alias_format", "alias_header", "alias_id_column", "alias_name_column"}) {
      if (const toml::node* n = t.get(key)) {
        file.error(diags, "bad-value", place_of(n->source(), file.path),
                   std::string("'") + key + "' needs an 'alias_file'");
        ok = false;
      }
    }
  }
  if (r.string("name_order", text)) {
    if (text.value == "last_first") {
      e.last_first = true;
    } else if (text.value != "as_written") {
      file.error(diags, "bad-value", text.place, "name_order '" + text.value + "' is not one of as_written, last_first");
      ok = false;
    }
  }
  values.clear();
  if (r.strings("name_order_kinds", values, true)) {
    for (auto& v : values) e.last_first_kinds.push_back(v.value);
  }
  values.clear();
  if (r.strings("kinds", values, true)) {
    for (auto& v : values) e.kinds.push_back(v.value);
  }
  int64_t min_length = 0;
  if (r.integer("min_alias_length", min_length)) {
    if (min_length < 0 || min_length > 1000) {
      file.error(diags, "bad-value", place_of(t.get("min_alias_length")->source(), file.path),
                 "min_alias_length must be between 0 and 1000");
      ok = false;
    }
    e.min_alias_length = static_cast<uint32_t>(std::clamp<int64_t>(min_length, 0, 1000));
  }
  values.clear();
  if (r.strings("stoplist", values, true)) {
    for (auto& v : values) e.stoplist.push_back(v.value);
  }
  if (const toml::node* ex = t.get("exclude")) {
    if (const toml::table* table = ex->as_table()) {
      for (auto&& [key, node] : *table) {
        std::vector<Located> phrases;
        if (!r.strings_of(node, std::string(key.str()), phrases, true)) continue;
        e.exclude.emplace_back(Located{std::string(key.str()), place_of(key.source(), file.path)}, std::move(phrases));
      }
    } else {
      r.type_error(*ex, "exclude", "a table of entity id = [phrases]");
    }
  }
  if (ok) out.entity_lists.push_back(std::move(e));
}

void read_document(RuleFile& file, Diagnostics& diags, const toml::table& doc) {
  TableReader top(file, diags, doc, "a rule file", {"terms", "entity", "entities", "rule"});
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
  for (const char* kind : {"entity", "entities", "rule"}) {
    const toml::node* n = doc.get(kind);
    if (!n) continue;
    const toml::array* arr = n->as_array();
    if (!arr || !arr->is_array_of_tables()) {
      top.type_error(*n, kind, ("an array of tables, written [[" + std::string(kind) + "]]").c_str());
      continue;
    }
    for (const toml::node& item : *arr) {
      const std::string_view k = kind;
      if (k == "rule") {
        read_rule(file, diags, *item.as_table(), file);
      } else if (k == "entity") {
        read_entity(file, diags, *item.as_table(), file);
      } else {
        read_entity_list(file, diags, *item.as_table(), file);
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
