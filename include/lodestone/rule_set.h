// RuleSet: every rule of a set of TOML files, compiled into one Hyperscan database per text form.
// Built once by load_rule_set(), then immutable: share it across threads as shared_ptr<const RuleSet>.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lodestone/status.h"

namespace lodestone {

namespace compiled {
struct RuleSetData;  // rules/compiled.h
}

class RuleSet {
 public:
  explicit RuleSet(std::unique_ptr<compiled::RuleSetData> data);
  ~RuleSet();
  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;

  size_t rule_count() const;
  size_t term_count() const;  // distinct Hyperscan patterns
  size_t file_count() const;
  const compiled::RuleSetData& data() const { return *data_; }

 private:
  std::unique_ptr<compiled::RuleSetData> data_;
};

struct LoadResult {
  std::shared_ptr<const RuleSet> rule_set;  // null when diagnostics hold an error
  Diagnostics diagnostics;                  // every error and warning of the load
};

// Loads rule files. Each path is a file, a directory (its *.toml files, sorted), or a glob.
// All errors of all files are reported; the rule set is built only when there are none.
LoadResult load_rule_set(const std::vector<std::string>& paths);

// Loads rules from TOML text in memory; `name` stands for the file in diagnostics.
LoadResult load_rule_set_from_string(const std::string& toml_text, const std::string& name);

}  // namespace lodestone
