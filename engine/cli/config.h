// lodestone.toml: which rules to load. The watcher's sections (sources, notifiers, state) join
// this file with `lodestone watch`; until then an unknown key is an error, as it will stay.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lodestone/status.h"

namespace lodestone::cli {

struct Config {
  std::string path;
  std::vector<std::string> rules;  // paths and globs, relative to the config file's folder
  std::optional<std::string> cache_dir;         // "" turns the cache off (cache_dir = false)
  std::optional<double> compile_time_limit;     // seconds
  std::optional<int64_t> compile_memory_limit;  // MiB
};

std::optional<Config> load_config(const std::string& path, Diagnostics& diags);

}  // namespace lodestone::cli
