// RuleSet: every rule of a set of TOML files, compiled into one Hyperscan database per text form.
// Built once by load_rule_set(), then immutable: share it across threads as shared_ptr<const RuleSet>.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lodestone/diagnostics.h"

namespace lodestone {

namespace compiled {
struct RuleSetData;  // rules/compiled.h
}

// A rule as the watcher, the CLI and an embedder see it; the compiled query stays inside.
struct RuleInfo {
  std::string id;
  std::string title;
  std::string severity;  // info | low | medium | high | critical
  std::vector<std::string> tags;
  std::vector<std::string> notify;  // notifier names; empty means the config's default notifiers
  std::vector<std::string> sources;  // globs on a post's source ("ptt/*"); empty means every source
  int64_t max_alerts_per_hour = 0;  // 0: no limit; the watcher holds back the rest
  SourcePlace place;                // where the [[rule]] table is written
};

// What loading one [[entities]] list gave: `lodestone check` prints it.
struct EntityListInfo {
  std::string id;
  std::vector<std::string> files;  // the main file, then the alias file
  size_t rows = 0;                 // data rows read, in both files
  size_t entities = 0;             // entities loaded
  size_t names = 0;                // names loaded: each entity's name and aliases, reorderings included
  size_t aliases = 0;              // of which aliases (not an entity's own name, not a reordering)
  size_t reordered = 0;            // of which "First LAST" reorderings of "LAST, First"
  // Why rows, entities and names were skipped, with counts, in the order first met.
  std::vector<std::pair<std::string, size_t>> skipped_rows;
  std::vector<std::pair<std::string, size_t>> skipped_names;
  size_t skipped_entities = 0;  // entities none of whose names was left
  double seconds = 0;           // reading and filtering
  size_t skipped_row_count() const { return total(skipped_rows); }
  size_t skipped_name_count() const { return total(skipped_names); }
  static size_t total(const std::vector<std::pair<std::string, size_t>>& counts) {
    size_t n = 0;
    for (const auto& [why, count] : counts) n += count;
    return n;
  }
};

// How long loading took and where the databases came from: `--stats` prints it.
struct LoadStats {
  double read_seconds = 0;      // rule files and entity lists read
  double resolve_seconds = 0;   // names resolved, terms normalized
  double database_seconds = 0;  // Hyperscan databases compiled, or loaded from the cache
  bool from_cache = false;
  std::string cache_file;
  std::string cache_problem;  // why a cache entry present was not used, or not written
  uint64_t database_bytes = 0;
  uint64_t compile_peak_bytes = 0;  // peak memory of the compiling process; 0 from the cache
};

class RuleSet {
 public:
  explicit RuleSet(std::unique_ptr<compiled::RuleSetData> data);
  ~RuleSet();
  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;

  size_t rule_count() const;
  size_t term_count() const;     // terms of all rules, a term used by two rules counted twice
  size_t pattern_count() const;  // distinct Hyperscan patterns the terms compiled to
  size_t entity_count() const;   // [[entity]] tables and the entities of every list
  size_t database_count() const; // Hyperscan databases: one per text form in use
  size_t file_count() const;

  // The rules in the order they are defined (file by file), and one by id (null when none).
  const RuleInfo& rule(size_t index) const;
  const RuleInfo* find_rule(std::string_view id) const;
  // The rule files read, and the entity lists with the files they came from.
  const std::vector<std::string>& files() const;
  std::span<const EntityListInfo> entity_lists() const;
  const LoadStats& stats() const;

  // The compiled form, for the scan core (engine/) alone.
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
  // Field names rules may name without an "unknown-field" warning, besides the ones the built-in
  // sources produce (standard_field_names() in post.h): the config's [lodestone] fields.
  std::vector<std::string> known_fields;
};

// The default cache folder: $LODESTONE_CACHE_DIR, else $XDG_CACHE_HOME/lodestone, else
// $HOME/.cache/lodestone; empty when none of them is set. An empty or relative XDG_CACHE_HOME
// counts as unset, as the XDG base directory spec says.
// The CLI uses it unless told otherwise; LoadOptions has no cache by default.
std::string default_cache_dir();

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
