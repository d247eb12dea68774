// lodestone.toml: the rules, the state file, the sources, the notifiers and the watcher's
// settings, checked with file:line:col errors like the rule files'. An unknown key is an error.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "watch/options.h"
#include "watch/retry.h"
#include "lodestone/diagnostics.h"

namespace lodestone::cli {

struct SourceConfig {
  std::string name, type;
  OptionValues values;  // checked against the kind's options (sources/registry.h)
  SourcePlace place;
};

struct NotifierConfig {
  std::string name, type;
  OptionValues values;  // checked against the kind's options (notifiers/registry.h)
  RetryPolicy retry;
  SourcePlace place;
};

struct Config {
  std::string path;
  std::string base;                // the config file's folder: relative paths start here
  std::vector<std::string> rules;  // paths and globs, relative to the config file's folder
  std::optional<std::string> cache_dir;         // "" turns the cache off (cache_dir = false)
  std::optional<double> compile_time_limit;     // seconds
  std::optional<int64_t> compile_memory_limit;  // MiB
  std::vector<std::string> fields;  // field names the posts have besides the built-in sources' ones

  std::string state;            // the SQLite store; default "lodestone.db" beside the config
  int workers = 0;              // matching threads; 0: one per core
  int64_t queue = 10000;        // posts waiting for a worker at most
  std::string admin;            // host:port of /metrics, /healthz, /readyz; empty: off
  std::string log_level = "info";
  std::string log_format = "text";
  std::vector<std::string> notify;  // notifiers for rules that name none; default: every notifier
  double retention = 30 * 86400;    // seconds a seen post key is kept
  double shutdown_deadline = 10;    // seconds in-flight deliveries get at shutdown
  bool watch_rules = true;          // reload when a rule file changes (SIGHUP always reloads)
  // Collector mode (docs/scale-out.md): the sources' posts are XADDed to this Redis stream
  // instead of matched. Empty: match them here.
  std::string forward;                       // redis://host:port/db or unix:///path; ${ENV} expanded
  std::string forward_stream = "lodestone:posts";
  int64_t forward_maxlen = 1000000;          // XADD MAXLEN ~

  std::vector<SourceConfig> sources;
  std::vector<NotifierConfig> notifiers;
};

// Reads and checks the config; every problem goes to `diags`, nullopt when one is an error.
// Secrets (${ENV}, *_file) are resolved here and never written into a message.
std::optional<Config> load_config(const std::string& path, Diagnostics& diags);

}  // namespace lodestone::cli
