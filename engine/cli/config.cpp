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
      rules::TableReader section(source, diags, *t, "[lodestone]", {"rules"});
      std::vector<rules::Located> globs;
      section.strings("rules", globs, true);
      // Paths are relative to the config file's folder, so a config works from any directory.
      const std::filesystem::path base = std::filesystem::path(path).parent_path();
      for (const auto& g : globs) {
        const std::filesystem::path p(g.value);
        config.rules.push_back((p.is_absolute() || base.empty() ? p : base / p).string());
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
