// load_rule_set: paths and globs → files → definitions → compiled RuleSet.
#include "lodestone/rule_set.h"

#include <glob.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "rules/compiled.h"
#include "rules/compiler.h"
#include "rules/loader.h"

namespace lodestone {

namespace compiled {

RuleSetData::~RuleSetData() {
  for (hs_database_t* db : databases) hs_free_database(db);
}

int RuleSetData::field_id(std::string_view name) const {
  for (size_t i = 0; i < field_names.size(); ++i) {
    if (field_names[i] == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace compiled

RuleSet::RuleSet(std::unique_ptr<compiled::RuleSetData> data) : data_(std::move(data)) {}
RuleSet::~RuleSet() = default;
size_t RuleSet::rule_count() const { return data_->rules.size(); }
size_t RuleSet::term_count() const { return data_->terms.size(); }
size_t RuleSet::pattern_count() const { return data_->patterns.size(); }
size_t RuleSet::entity_count() const { return data_->entities.size(); }
size_t RuleSet::database_count() const {
  size_t n = 0;
  for (const hs_database_t* db : data_->databases) n += db != nullptr;
  return n;
}
size_t RuleSet::file_count() const { return data_->files.size(); }
const RuleInfo& RuleSet::rule(size_t index) const { return data_->rules[index]; }
const RuleInfo* RuleSet::find_rule(std::string_view id) const {
  for (const compiled::Rule& r : data_->rules) {
    if (r.id == id) return &r;
  }
  return nullptr;
}
const std::vector<std::string>& RuleSet::files() const { return data_->files; }
std::span<const EntityListInfo> RuleSet::entity_lists() const { return data_->entity_lists; }
const LoadStats& RuleSet::stats() const { return data_->stats; }

namespace {

// A path names a file, a directory (its *.toml files, sorted) or a glob; each names at least one file.
std::vector<std::string> expand_paths(const std::vector<std::string>& paths, Diagnostics& diags) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const auto& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::directory_iterator(path, ec)) {
        if (entry.path().extension() == ".toml") found.push_back(entry.path().string());
      }
      std::sort(found.begin(), found.end());
      if (found.empty()) diags.error("no-rules", {path, 0, 0}, "directory holds no .toml rule files");
      files.insert(files.end(), found.begin(), found.end());
      continue;
    }
    if (path.find_first_of("*?[") != std::string::npos && !fs::exists(path, ec)) {
      glob_t g{};
      if (glob(path.c_str(), 0, nullptr, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i) files.emplace_back(g.gl_pathv[i]);
      } else {
        diags.error("no-rules", {path, 0, 0}, "pattern matches no rule file");
      }
      globfree(&g);
      continue;
    }
    files.push_back(path);
  }
  // The same file named twice (a glob and a path, say) is read once.
  std::vector<std::string> unique;
  for (const auto& f : files) {
    if (std::find(unique.begin(), unique.end(), f) == unique.end()) unique.push_back(f);
  }
  return unique;
}

LoadResult finish(std::vector<rules::RuleFile> files, Diagnostics diags, const LoadOptions& options,
                  double read_seconds = 0) {
  LoadResult result;
  rules::BuildOptions build;
  build.cache_dir = options.cache_dir;
  build.time_limit_seconds = options.compile_time_limit;
  build.memory_limit_bytes = options.compile_memory_limit;
  // One cache entry per set of rule files: the same files overwrite their own entry.
  std::vector<std::string> names;
  for (const auto& f : files) {
    std::error_code ec;
    auto abs = std::filesystem::absolute(f.path, ec);
    names.push_back(ec ? f.path : abs.lexically_normal().string());
  }
  std::sort(names.begin(), names.end());
  for (const auto& n : names) build.cache_name += n + '\n';
  auto data = rules::compile_rule_set(files, build, options.known_fields, diags);
  if (data) data->stats.read_seconds += read_seconds;  // the rule files, before their lists
  if (data && !diags.has_errors()) result.rule_set = std::make_shared<const RuleSet>(std::move(data));
  result.diagnostics = std::move(diags);
  return result;
}

}  // namespace

LoadResult load_rule_set(const std::vector<std::string>& paths, const LoadOptions& options) {
  Diagnostics diags;
  std::vector<rules::RuleFile> files;
  const auto started = std::chrono::steady_clock::now();
  for (const auto& path : expand_paths(paths, diags)) {
    if (auto file = rules::read_rule_file(path, diags)) files.push_back(std::move(*file));
  }
  if (paths.empty()) diags.error("no-rules", {}, "no rule files given");
  const double read = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return finish(std::move(files), std::move(diags), options, read);
}

LoadResult load_rule_set_from_string(const std::string& toml_text, const std::string& name,
                                     const LoadOptions& options) {
  Diagnostics diags;
  std::vector<rules::RuleFile> files;
  if (auto file = rules::read_rule_text(toml_text, name, diags)) files.push_back(std::move(*file));
  return finish(std::move(files), std::move(diags), options);
}

}  // namespace lodestone
