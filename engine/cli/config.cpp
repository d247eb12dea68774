// Loading lodestone.toml, with file:line:col errors like the rule files'.
#include "engine/cli/config.h"

#include <filesystem>

#include "rules/toml_source.h"

namespace lodestone::cli {

std::optional<Config> load_config(const std::string& path, Diagnostics& diags) {
  std::string text;
  if (!rules::read_text_file(path, text)) {
    diags.error("unreadable", {path, 0, 0}, "cannot read config file");
    return std::nullopt;
  }
  rules::TomlSource source;
  source.path = path;
  auto doc = rules::parse_toml(source, text, diags);
  if (!doc) return std::nullopt;

  const size_t errors = diags.error_count();
  rules::TableReader top(source, diags, *doc, "the config", {"lodestone"});
  Config config;
  config.path = path;
  if (const toml::node* node = top.get("lodestone")) {
    if (const toml::table* t = node->as_table()) {
      rules::TableReader section(source, diags, *t, "[lodestone]",
                                 {"rules", "cache_dir", "compile_time_limit", "compile_memory_limit"});
      std::vector<rules::Located> globs;
      section.strings("rules", globs, true);
      // Paths are relative to the config file's folder, so a config works from any directory.
      const std::filesystem::path base = std::filesystem::path(path).parent_path();
      auto resolve = [&](const std::string& value) {
        const std::filesystem::path p(value);
        return (p.is_absolute() || base.empty() ? p : base / p).string();
      };
      for (const auto& g : globs) config.rules.push_back(resolve(g.value));
      if (const toml::node* cache = section.get("cache_dir")) {
        if (cache->is_boolean() && !*cache->value<bool>()) {
          config.cache_dir = "";
        } else if (cache->is_string() && !cache->value<std::string>()->empty()) {
          config.cache_dir = resolve(*cache->value<std::string>());
        } else {
          section.type_error(*cache, "cache_dir", "a folder, or false for no cache");
        }
      }
      if (const toml::node* limit = section.get("compile_time_limit")) {
        auto seconds = limit->value<double>();
        if (!limit->is_integer() && !limit->is_floating_point()) {
          section.type_error(*limit, "compile_time_limit", "a number of seconds");
        } else if (!(*seconds > 0)) {
          source.error(diags, "bad-value", rules::place_of(limit->source(), path), "compile_time_limit must be above 0");
        } else {
          config.compile_time_limit = *seconds;
        }
      }
      if (const toml::node* limit = section.get("compile_memory_limit")) {
        if (!limit->is_integer()) {
          section.type_error(*limit, "compile_memory_limit", "a whole number of MiB");
        } else if (*limit->value<int64_t>() <= 0) {
          source.error(diags, "bad-value", rules::place_of(limit->source(), path), "compile_memory_limit must be above 0");
        } else {
          config.compile_memory_limit = *limit->value<int64_t>();
        }
      }
    } else {
      top.type_error(*node, "lodestone", "a table");
    }
  }
  if (diags.error_count() > errors) return std::nullopt;
  if (config.rules.empty()) {
    diags.error("missing-key", {path, 0, 0}, "the config names no rules: add [lodestone] rules = [\"rules/*.toml\"]");
    return std::nullopt;
  }
  return config;
}

}  // namespace lodestone::cli
