// lodestone check: load, compile, self-test; every problem with its file:line:col.
// Also what every command shares for loading rules: the options, and the figures of --stats.
#include <malloc.h>
#include <sys/resource.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/config.h"
#include "engine/rule_tests.h"
#include "notifiers/template.h"
#include "rules/toml_source.h"

namespace lodestone::cli {
namespace {

// 12345678 → "12,345,678"
std::string grouped(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string fixed(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string mib(uint64_t bytes) { return fixed(static_cast<double>(bytes) / (1024.0 * 1024.0), 1) + " MiB"; }

std::string plural(uint64_t n, const char* one, const char* many) { return grouped(n) + " " + (n == 1 ? one : many); }

std::string reasons(const std::vector<std::pair<std::string, size_t>>& counts) {
  std::string out;
  for (const auto& [why, n] : counts) out += (out.empty() ? "" : "; ") + why + " (" + grouped(n) + ")";
  return out;
}

// What each entity list loaded and skipped, and why.
void print_lists(const RuleSet& rules, std::ostream& out) {
  for (const EntityListInfo& l : rules.entity_lists()) {
    std::string files;
    for (const auto& f : l.files) files += (files.empty() ? "" : ", ") + std::filesystem::path(f).filename().string();
    out << "list " << l.id << ": " << plural(l.entities, "entity", "entities") << " with "
        << plural(l.aliases, "alias", "aliases");
    if (l.reordered) out << " and " << grouped(l.reordered) << " First LAST orders";
    out << ", " << plural(l.names, "name", "names") << " in all, loaded from " << plural(l.rows, "row", "rows")
        << " of " << files << " in " << fixed(l.seconds, 2) << " s\n";
    if (l.skipped_row_count()) {
      out << "  skipped " << plural(l.skipped_row_count(), "row", "rows") << ": " << reasons(l.skipped_rows) << '\n';
    }
    if (l.skipped_name_count()) {
      out << "  skipped " << plural(l.skipped_name_count(), "name", "names") << ": " << reasons(l.skipped_names)
          << '\n';
    }
    if (l.skipped_entities) {
      out << "  skipped " << plural(l.skipped_entities, "entity", "entities") << ": no name of theirs was left\n";
    }
  }
}

void print_stats(const RuleSet& rules, std::ostream& out) {
  const LoadStats& s = rules.stats();
  out << "stats: read " << plural(rules.file_count(), "rule file", "rule files");
  if (!rules.entity_lists().empty()) {
    out << " and " << plural(rules.entity_lists().size(), "entity list", "entity lists");
  }
  out << " in " << fixed(s.read_seconds, 3) << " s; resolved " << plural(rules.rule_count(), "rule", "rules")
      << " into " << plural(rules.term_count(), "term", "terms") << " and "
      << plural(rules.pattern_count(), "pattern", "patterns") << " in " << fixed(s.resolve_seconds, 3) << " s\n";
  const size_t forms = rules.database_count();
  out << "stats: database " << mib(s.database_bytes) << " in " << plural(forms, "form", "forms") << ", ";
  if (s.from_cache) {
    out << "loaded from the cache in " << fixed(s.database_seconds, 3) << " s";
  } else {
    out << "compiled in " << fixed(s.database_seconds, 3) << " s (compiler peak " << mib(s.compile_peak_bytes) << ")";
  }
  if (!s.cache_file.empty()) out << "; cache " << s.cache_file;
  out << '\n';
  if (!s.cache_problem.empty()) out << "stats: cache entry not used: " << s.cache_problem << '\n';
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  out << "stats: load " << fixed(s.read_seconds + s.resolve_seconds + s.database_seconds, 3) << " s, peak memory "
      << mib(static_cast<uint64_t>(ru.ru_maxrss) * 1024) << '\n';
}

}  // namespace

void add_rule_options(CLI::App& app, RuleOptions& options) {
  app.add_option("-c,--config", options.config, "lodestone.toml naming the rules");
  app.add_flag("--stats", options.stats, "print load figures (time, database size, cache, memory) to stderr");
  app.add_option("--cache-dir", options.cache_dir,
                 "folder of the compiled-database cache (default $LODESTONE_CACHE_DIR, $XDG_CACHE_HOME/lodestone "
                 "or ~/.cache/lodestone)");
  app.add_flag("--no-cache", options.no_cache, "always compile; neither read nor write the cache");
  app.add_option("--compile-time-limit", options.compile_time_limit,
                 "seconds a compile may take before it fails (default 300)")
      ->check(CLI::PositiveNumber);
  app.add_option("--compile-memory-limit", options.compile_memory_limit,
                 "MiB a compile may use before it fails (default 4096)")
      ->check(CLI::PositiveNumber);
}

LoadOptions load_options_for(const RuleOptions& options, const Config* config) {
  LoadOptions load;
  if (options.no_cache) {
    load.cache_dir.clear();
  } else if (!options.cache_dir.empty()) {
    load.cache_dir = options.cache_dir;
  } else if (config && config->cache_dir) {
    load.cache_dir = *config->cache_dir;
  } else {
    load.cache_dir = default_cache_dir();
  }
  load.compile_time_limit = options.compile_time_limit > 0                  ? options.compile_time_limit
                            : config && config->compile_time_limit ? *config->compile_time_limit
                                                                   : kDefaultCompileTimeLimit;
  const int64_t memory = options.compile_memory_limit > 0                      ? options.compile_memory_limit
                         : config && config->compile_memory_limit ? *config->compile_memory_limit
                                                                  : kDefaultCompileMemoryLimit;
  load.compile_memory_limit = static_cast<uint64_t>(memory) * 1024 * 1024;
  if (config) load.known_fields = config->fields;
  return load;
}

void check_rule_notifiers(const RuleSet& rules, const std::vector<std::string>& notifiers, Diagnostics& diags) {
  for (size_t i = 0; i < rules.rule_count(); ++i) {
    const RuleInfo& rule = rules.rule(i);
    for (const auto& name : rule.notify) {
      if (std::find(notifiers.begin(), notifiers.end(), name) != notifiers.end()) continue;
      std::string msg = "rule '" + rule.id + "' notifies '" + name + "', which no [[notifier]] of the config defines";
      if (auto near = rules::did_you_mean(name, notifiers)) msg += " (did you mean '" + *near + "'?)";
      diags.error("unknown-notifier", rule.place, msg);
    }
  }
}

void release_freed_memory() { malloc_trim(0); }

// A webhook template whose body is JSON but which puts post text in unescaped ({{{post.title}}}):
// one quote in a title and the body is no longer JSON. Warned at the tag's place in the template.
void check_notifier_templates(const Config& config, Diagnostics& diags) {
  for (const auto& n : config.notifiers) {
    if (n.type != "webhook" || n.values.string("format") != "template") continue;
    const std::string content_type = n.values.string("content_type", "application/json");
    if (escape_for_content_type(content_type) != TemplateEscape::kJson) continue;
    const std::string path = n.values.string("template");
    std::ifstream in(path, std::ios::binary);
    if (!in) continue;  // the notifier's own check says so
    std::ostringstream text;
    text << in.rdbuf();
    const std::string body = text.str();
    for (const UnescapedTag& tag : unescaped_post_tags(body)) {
      size_t line_begin = 0;
      for (uint32_t l = 1; l < tag.line; ++l) line_begin = body.find('\n', line_begin) + 1;
      const size_t line_end = body.find('\n', line_begin);
      diags.warning("unescaped-template", {path, tag.line, tag.column},
                    "notifier '" + n.name + "': " + tag.tag + " puts post text into a JSON body unescaped, so a quote in it "
                        "breaks the JSON; write \"{{" + tag.name + "}}\", which escapes it for a JSON string",
                    body.substr(line_begin, line_end == std::string::npos ? std::string::npos : line_end - line_begin));
    }
  }
}

std::shared_ptr<const RuleSet> load_rules(const RuleOptions& options, bool* had_warnings) {
  std::vector<std::string> paths = options.rules;
  Diagnostics diags;
  std::optional<Config> config;
  if (!options.config.empty()) {
    config = load_config(options.config, diags);
    std::cerr << format_diagnostics(diags);
    if (!config) return nullptr;
    paths.insert(paths.end(), config->rules.begin(), config->rules.end());
  }
  if (paths.empty()) {
    std::cerr << "lodestone: no rules given (use -c CONFIG or name rule files)\n";
    return nullptr;
  }
  const LoadOptions load = load_options_for(options, config ? &*config : nullptr);
  LoadResult result = load_rule_set(paths, load);
  release_freed_memory();
  if (result.rule_set && config) {
    std::vector<std::string> names;
    for (const auto& n : config->notifiers) names.push_back(n.name);
    check_rule_notifiers(*result.rule_set, names, result.diagnostics);
    check_notifier_templates(*config, result.diagnostics);
    if (result.diagnostics.has_errors()) result.rule_set = nullptr;
  }
  std::cerr << format_diagnostics(result.diagnostics);
  if (had_warnings) *had_warnings = !result.diagnostics.empty();
  if (!result.rule_set) {
    const size_t n = result.diagnostics.error_count();
    std::cerr << "lodestone: " << n << " error" << (n == 1 ? "" : "s") << "; no rules loaded\n";
    return nullptr;
  }
  if (options.stats) print_stats(*result.rule_set, std::cerr);
  return result.rule_set;
}

int run_check(const CheckOptions& options) {
  if (!options.config.empty() && options.rules.empty()) {
    // A collector's config names no rules: its matchers load them (docs/scale-out.md).
    Diagnostics diags;
    const auto config = load_config(options.config, diags);
    if (config && config->rules.empty() && !config->forward.empty()) {
      std::cerr << format_diagnostics(diags);
      std::cout << "ok: a collector: " << config->sources.size() << " source" << (config->sources.size() == 1 ? "" : "s")
                << " forwarded to stream " << config->forward_stream << "; no rules to check\n";
      return 0;
    }
  }
  bool had_warnings = false;
  auto rules = load_rules(options, &had_warnings);
  if (!rules) return 1;
  RuleTestReport report = run_rule_tests(rules);
  std::cerr << format_diagnostics(report.failures);
  print_lists(*rules, std::cout);
  const bool warned = options.strict && had_warnings;
  const bool failed = report.failed || warned;
  std::cout << (failed ? "FAILED: " : "ok: ") << rules->rule_count() << " rules, " << rules->entity_count()
            << " entities, " << rules->pattern_count() << " patterns from " << rules->file_count() << " file"
            << (rules->file_count() == 1 ? "" : "s") << "; " << report.passed << " tests passed, " << report.failed
            << " failed" << (warned ? "; warnings fail with --strict" : "") << '\n';
  return failed ? 1 : 0;
}

}  // namespace lodestone::cli
