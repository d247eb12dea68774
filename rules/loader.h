// Stage 1 of loading rules: read one TOML rule file into plain definitions that remember where
// each value was written. Checks keys and types only; names are resolved by the compiler.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lodestone/diagnostics.h"
#include "rules/toml_source.h"

namespace lodestone::rules {

struct TermListDef {
  std::string name;
  SourcePlace place;
  std::vector<Located> terms;
};

struct EntityDef {
  Located id;
  Located name;
  std::string kind;
  std::vector<Located> aliases;
  std::vector<Located> exclude;  // phrases an occurrence of a name must not be inside (homonyms)
  SourcePlace place;
};

// A column of a list file: a 1-based number, or a header name (CSV, TSV) or key (JSONL).
struct ColumnRef {
  int number = 0;
  std::string key;
  SourcePlace place;
  bool set() const { return number > 0 || !key.empty(); }
  std::string describe() const { return number > 0 ? "column " + std::to_string(number) : "column '" + key + "'"; }
};

// One file of a list: which file, how it is written and where each value is.
struct ListFileDef {
  Located file;        // as written, relative to the rule file
  std::string path;    // resolved
  std::string format;  // csv | tsv | jsonl
  bool header = false;
};

// [[entities]]: a dictionary of entities in a CSV, TSV or JSONL file, used as @id.
struct EntityListDef {
  Located id;
  SourcePlace place;  // the [[entities]] header
  ListFileDef main;
  ColumnRef id_column;
  ColumnRef name_column;
  ColumnRef kind_column;
  ColumnRef alias_column;        // aliases in the main file, split by alias_separator when set
  std::string alias_separator;
  std::string default_kind;      // `kind`: for rows without one
  std::vector<std::string> empty_values;  // cell values that mean "empty", e.g. "-0-"
  bool has_alias_file = false;
  ListFileDef aliases;           // a second file of aliases, joined on alias_id_column
  ColumnRef alias_id_column;
  ColumnRef alias_name_column;
  bool last_first = false;       // name_order = "last_first": "LAST, First" also as "First LAST"
  std::vector<std::string> last_first_kinds;  // only for these kinds; empty: every kind
  std::vector<std::string> kinds;  // load only entities of these kinds (after `kind`); empty: every kind
  uint32_t min_alias_length = 0;  // names shorter than this (in characters, spaces aside) are skipped
  std::vector<std::string> stoplist;  // names skipped, compared in the name form
  std::vector<std::pair<Located, std::vector<Located>>> exclude;  // entity id → phrases
};

struct RuleTestDef {
  bool expect_match = true;
  std::vector<std::pair<std::string, std::string>> fields;  // empty name: the rule's default field
  std::vector<std::pair<std::string, double>> numbers;      // a test table's numbers (pushes = 60)
  std::string source;  // the test post's `source`; empty: the rule's `sources` are not applied
  SourcePlace place;
};

struct RuleDef {
  Located id;
  Located title;
  Located severity;
  Located match;
  std::vector<Located> fields;
  std::vector<Located> notify;
  int64_t max_alerts_per_hour = 0;  // 0: no limit
  std::vector<Located> tags;
  std::vector<Located> sources;  // globs on a post's source; empty: every source
  bool has_fields = false;
  bool case_sensitive = false;
  bool fold_chinese = true;
  std::vector<RuleTestDef> tests;
  SourcePlace place;  // the [[rule]] header
};

// One rule file: its definitions, and its text for diagnostics.
class RuleFile : public TomlSource {
 public:
  std::vector<TermListDef> term_lists;
  std::vector<EntityDef> entities;
  std::vector<EntityListDef> entity_lists;
  std::vector<RuleDef> rules;
};

// Reads and checks one rule file; adds every problem to `diags`. Returns nothing when the file
// cannot be read or is not TOML; otherwise the definitions that were well-formed.
std::optional<RuleFile> read_rule_file(const std::string& path, Diagnostics& diags);
std::optional<RuleFile> read_rule_text(std::string_view text, const std::string& name, Diagnostics& diags);

// "[a-z0-9][a-z0-9._-]*"
bool is_valid_id(const std::string& id);

}  // namespace lodestone::rules
