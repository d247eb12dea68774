// RuleSet: every rule of a set of TOML files, compiled into one Hyperscan database per text form.
// Built once by load_rule_set(), then immutable: share it across threads as shared_ptr<const RuleSet>.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lodestone/diagnostics.h"

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

// How a load compiles: the database cache and the compile budget. The defaults (no cache, no
// budget) suit tests and embedding; the CLI passes its own.
struct LoadOptions {
  std::string cache_dir;                 // compiled databases are cached here; empty: no cache
  double compile_time_limit = 0;         // seconds of Hyperscan compile; 0: no limit
  uint64_t compile_memory_limit = 0;     // bytes of the compiling process; 0: no limit
};

struct LoadResult {
  std::shared_ptr<const RuleSet> rule_set;  // null when diagnostics hold an error
  Diagnostics diagnostics;                  // every error and warning of the load
};

// Loads rule files. Each path is a file, a directory (its *.toml files, sorted), or a glob.
// All errors of all files are reported; the rule set is built only when there are none.
LoadResult load_rule_set(const std::vector<std::string>& paths, const LoadOptions& options = {});

// Loads rules from TOML text in memory; `name` stands for the file in diagnostics.
LoadResult load_rule_set_from_string(const std::string& toml_text, const std::string& name,
                                     const LoadOptions& options = {});

}  // namespace lodestone
