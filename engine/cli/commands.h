// The `lodestone` subcommands. Each returns the process exit code.
#pragma once

#include <string>
#include <vector>

#include "lodestone/rule_set.h"

namespace lodestone::cli {

struct CheckOptions {
  std::string config;
  std::vector<std::string> rules;
};

struct ScanOptions {
  std::string config;
  std::vector<std::string> rules;
  std::vector<std::string> inputs;  // files, directories, or "-" for stdin
  std::string format = "json";      // json | text
  std::string color = "auto";       // auto | always | never (text format)
  std::string source;               // the source of posts that name none; default: the file's path
  size_t max_text_bytes = size_t{1} << 20;
  std::string now;  // fixed matched_at, for reproducible output
};

int run_check(const CheckOptions& options);
int run_scan(const ScanOptions& options);

// Loads the rules named by -c CONFIG and/or RULES paths; prints diagnostics to stderr.
// Returns null on any error.
std::shared_ptr<const RuleSet> load_rules(const std::string& config, const std::vector<std::string>& rules,
                                          bool* had_warnings = nullptr);

}  // namespace lodestone::cli
