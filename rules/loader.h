// Stage 1 of loading rules: read one TOML rule file into plain definitions that remember where
// each value was written. Checks keys and types only; names are resolved by the compiler.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lodestone/status.h"

namespace lodestone::rules {

// A string value and the place of its first character (the opening quote for a string).
struct Located {
  std::string value;
  SourcePlace place;
};

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

class RuleFile {
 public:
  std::string path;
  std::vector<TermListDef> term_lists;
  std::vector<EntityDef> entities;
  std::vector<RuleDef> rules;

  void set_text(std::string text);
  // Line `n` (1-based) as written, without its line break; empty past the end.
  std::string line(uint32_t n) const;
  // The place of byte `offset` of the decoded value of the TOML string written at `start`
  // (its opening quote), accounting for escapes and multi-line strings.
  SourcePlace place_in_string(const SourcePlace& start, size_t offset) const;

  void error(Diagnostics& diags, std::string code, const SourcePlace& place, std::string message) const;
  void warning(Diagnostics& diags, std::string code, const SourcePlace& place, std::string message) const;

 private:
  std::vector<std::string> lines_;
};

// Finds what Debian's toml++ 3.3 cannot be given safely: a non-ASCII character outside strings
// and comments, or first on a line continued by a line-ending backslash in a multi-line basic
// string, reach __builtin_unreachable in its white-space test (upstream issues #190, #295).
// Reports an error at the character and returns false; TOML allows neither outside strings.
bool check_toml_hazards(const RuleFile& file, std::string_view text, Diagnostics& diags);

// Reads and checks one rule file; adds every problem to `diags`. Returns nothing when the file
// cannot be read or is not TOML; otherwise the definitions that were well-formed.
std::optional<RuleFile> read_rule_file(const std::string& path, Diagnostics& diags);
std::optional<RuleFile> read_rule_text(std::string text, const std::string& name, Diagnostics& diags);

// The candidate closest to `word` by edit distance, when it is close enough to be a likely typo.
std::optional<std::string> did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

// "[a-z0-9][a-z0-9._-]*"
bool is_valid_id(const std::string& id);

}  // namespace lodestone::rules
