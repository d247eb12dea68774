// Stage 1 of loading rules: read one TOML rule file into plain definitions that remember where
// each value was written. Checks keys and types only; names are resolved by the compiler.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lodestone/status.h"
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
  SourcePlace place;
};

struct RuleTestDef {
  bool expect_match = true;
  std::vector<std::pair<std::string, std::string>> fields;  // empty name: the rule's default field
  SourcePlace place;
};

struct RuleDef {
  Located id;
  Located title;
  Located severity;
  Located match;
  std::vector<Located> fields;
  std::vector<Located> notify;
  std::vector<Located> tags;
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
  std::vector<RuleDef> rules;
};

// Reads and checks one rule file; adds every problem to `diags`. Returns nothing when the file
// cannot be read or is not TOML; otherwise the definitions that were well-formed.
std::optional<RuleFile> read_rule_file(const std::string& path, Diagnostics& diags);
std::optional<RuleFile> read_rule_text(std::string_view text, const std::string& name, Diagnostics& diags);

// "[a-z0-9][a-z0-9._-]*"
bool is_valid_id(const std::string& id);

}  // namespace lodestone::rules
