// The `lodestone` subcommands. Each returns the process exit code.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "lodestone/rule_set.h"
#include "lodestone/diagnostics.h"

namespace lodestone::cli {

struct Config;  // cli/config.h

// How rules are loaded: shared by every command that loads them. Unset values come from the
// config's [lodestone] section, then from the defaults.
struct RuleOptions {
  std::string config;
  std::vector<std::string> rules;
  bool stats = false;                 // print load (and scan) figures to stderr
  std::string cache_dir;              // --cache-dir; default: default_cache_dir()
  bool no_cache = false;              // --no-cache
  double compile_time_limit = -1;     // seconds; -1: unset
  int64_t compile_memory_limit = -1;  // MiB; -1: unset
};

constexpr double kDefaultCompileTimeLimit = 300;   // seconds
constexpr int64_t kDefaultCompileMemoryLimit = 4096;  // MiB

struct CheckOptions : RuleOptions {
  bool strict = false;  // --strict: a warning fails the check as an error does
};

struct ScanOptions : RuleOptions {
  std::vector<std::string> inputs;  // files, directories, or "-" for stdin
  std::string format = "json";      // json | text
  std::string color = "auto";       // auto | always | never (text format)
  std::string source;               // the source of posts that name none; default: the file's path
  size_t max_text_bytes = size_t{1} << 20;
  std::string now;  // fixed matched_at, for reproducible output
  size_t workers = 0;  // threads matching posts; 0: one per core
};

struct WatchOptions : RuleOptions {};

struct NotifyTestOptions {
  std::string config;
  std::string notifier;
};

int run_check(const CheckOptions& options);
int run_scan(const ScanOptions& options);
int run_watch(const WatchOptions& options);
int run_notify_test(const NotifyTestOptions& options);

// The load options (cache, budget) from the command line, then the config, then the defaults.
LoadOptions load_options_for(const RuleOptions& options, const Config* config);

// Rules whose `notify` names a notifier the config does not define: one error each, at the rule.
void check_rule_notifiers(const RuleSet& rules, const std::vector<std::string>& notifiers, Diagnostics& diags);

// Gives the memory the rule compiler freed back to the system (glibc keeps freed heap otherwise),
// so what a large rule set needed while loading does not stay resident beside the scan's own.
void release_freed_memory();

// Loads the rules named by -c CONFIG and/or RULES paths; prints diagnostics to stderr, and the
// load's figures with --stats. Returns null on any error.
std::shared_ptr<const RuleSet> load_rules(const RuleOptions& options, bool* had_warnings = nullptr);

// Adds the options of RuleOptions to a subcommand.
void add_rule_options(CLI::App& app, RuleOptions& options);

}  // namespace lodestone::cli
