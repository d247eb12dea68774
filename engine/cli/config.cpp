// Loading lodestone.toml, with file:line:col errors like the rule files'.
#include "engine/cli/config.h"

#include <toml++/toml.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "rules/loader.h"

namespace lodestone::cli {

std::optional<Config> load_config(const std::string& path, Diagnostics& diags) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diags.error("unreadable", {path, 0, 0}, "cannot read config file");
    return std::nullopt;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  rules::RuleFile file;  // only for its source lines in diagnostics
  file.path = path;
  file.set_text(text);
  if (!rules::check_toml_hazards(file, text, diags)) return std::nullopt;
  toml::parse_result parsed = toml::parse(std::string_view(text), std::string_view(path));
  auto place = [&](const toml::source_region& r) { return SourcePlace{path, r.begin.line, r.begin.column}; };
  if (!parsed) {
    file.error(diags, "toml-syntax", place(parsed.error().source()), std::string(parsed.error().description()));
    return std::nullopt;
  }
  Config config;
  config.path = path;
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  const size_t errors = diags.error_count();
  for (auto&& [key, node] : parsed.table()) {
    if (key.str() != "lodestone") {
      std::string msg = "unknown section '" + std::string(key.str()) + "'";
      if (auto near = rules::did_you_mean(std::string(key.str()), {"lodestone"})) msg += " (did you mean '" + *near + "'?)";
      file.error(diags, "unknown-key", place(key.source()), msg);
      continue;
    }
    const toml::table* t = node.as_table();
    if (!t) {
      file.error(diags, "wrong-type", place(node.source()), "[lodestone] must be a table");
      continue;
    }
    for (auto&& [k, v] : *t) {
      if (k.str() != "rules") {
        std::string msg = "unknown key '" + std::string(k.str()) + "' in [lodestone]";
        if (auto near = rules::did_you_mean(std::string(k.str()), {"rules"})) msg += " (did you mean '" + *near + "'?)";
        file.error(diags, "unknown-key", place(k.source()), msg);
        continue;
      }
      auto add = [&](const toml::node& n) {
        if (!n.is_string()) {
          file.error(diags, "wrong-type", place(n.source()), "'rules' must hold strings (paths or globs)");
          return;
        }
        std::filesystem::path p(*n.value<std::string>());
        config.rules.push_back((p.is_absolute() || base.empty() ? p : base / p).string());
      };
      if (const toml::array* arr = v.as_array()) {
        for (const auto& item : *arr) add(item);
      } else {
        add(v);
      }
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
