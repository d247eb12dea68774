// Loading lodestone.toml, with file:line:col errors like the rule files'.
#include "cli/config.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "sources/registry.h"
#include "util/listen_address.h"
#include "notifiers/registry.h"
#include "rules/toml_source.h"

namespace lodestone::cli {
namespace {

using rules::Located;
using rules::TableReader;
using rules::TomlSource;

// [A-Za-z0-9][A-Za-z0-9._/-]*
bool valid_name(const std::string& name) {
  auto alnum = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (name.empty() || !alnum(name[0])) return false;
  for (char c : name) {
    if (!alnum(c) && c != '.' && c != '_' && c != '/' && c != '-') return false;
  }
  return true;
}

// "jsonl, directory, feed, http"
std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : ", ") + w;
  return out;
}

// name and type of a [[source]] or [[notifier]]; false when either is missing or bad.
bool name_and_type(const TomlSource& source, Diagnostics& diags, const toml::table& t, const char* what,
                   std::set<std::string>& names, std::string& name, std::string& type, std::vector<std::string> types) {
  const SourcePlace place = rules::place_of(t.source(), source.path);
  bool ok = true;
  const toml::node* n = t.get("name");
  if (!n || !n->is_string()) {
    source.error(diags, "missing-key", n ? rules::place_of(n->source(), source.path) : place,
                 std::string(what) + " needs a 'name' (a string)");
    ok = false;
  } else {
    name = *n->value<std::string>();
    const SourcePlace at = rules::place_of(n->source(), source.path);
    if (!valid_name(name)) {
      source.error(diags, "bad-value", at, "name '" + name + "' must match [A-Za-z0-9][A-Za-z0-9._/-]*");
      ok = false;
    } else if (!names.insert(name).second) {
      source.error(diags, "duplicate-name", at, std::string(what) + " name '" + name + "' is used twice");
      ok = false;
    }
  }
  const toml::node* ty = t.get("type");
  if (!ty || !ty->is_string()) {
    source.error(diags, "missing-key", ty ? rules::place_of(ty->source(), source.path) : place,
                 std::string(what) + " needs a 'type': one of " + joined(types));
    ok = false;
  } else {
    type = *ty->value<std::string>();
    if (std::find(types.begin(), types.end(), type) == types.end()) {
      std::string msg = "unknown " + std::string(what) + " type '" + type + "': one of " + joined(types);
      if (auto near = rules::did_you_mean(type, types)) msg += " (did you mean '" + *near + "'?)";
      source.error(diags, "bad-value", rules::place_of(ty->source(), source.path), msg);
      ok = false;
    }
  }
  return ok;
}

// Every notifier's retry schedule; each default is RetryPolicy's own.
const RetryPolicy kRetryDefaults;
const OptionSpec kRetryOptions[] = {
    {"max_attempts", OptionType::kInteger, integer_text(kRetryDefaults.max_attempts),
     "attempts in all before a delivery is dead"},
    {"backoff", OptionType::kDuration, duration_text(kRetryDefaults.initial_backoff),
     "wait before the second attempt; doubles each time"},
    {"max_backoff", OptionType::kDuration, duration_text(kRetryDefaults.max_backoff),
     "longest wait between attempts, Retry-After included"},
    {"max_age", OptionType::kDuration, duration_text(kRetryDefaults.max_age),
     "no attempt later than this after the first"},
};

}  // namespace

std::optional<Config> load_config(const std::string& path, Diagnostics& diags) {
  std::string text;
  if (!rules::read_text_file(path, text)) {
    diags.error("unreadable", {path, 0, 0}, "cannot read config file");
    return std::nullopt;
  }
  TomlSource source;
  source.path = path;
  auto doc = rules::parse_toml(source, text, diags);
  if (!doc) return std::nullopt;

  const size_t errors = diags.error_count();
  TableReader top(source, diags, *doc, "the config", {"lodestone", "source", "notifier"});
  Config config;
  config.path = path;
  config.base = std::filesystem::path(path).parent_path().string();
  // Paths are relative to the config file's folder, so a config works from any directory.
  auto resolve = [&](const std::string& value) {
    const std::filesystem::path p(value);
    return (p.is_absolute() || config.base.empty() ? p : std::filesystem::path(config.base) / p).string();
  };
  auto place = [&](const toml::node& n) { return rules::place_of(n.source(), path); };
  std::vector<Located> notify;
  if (const toml::node* node = top.get("lodestone")) {
    if (const toml::table* t = node->as_table()) {
      TableReader section(source, diags, *t, "[lodestone]",
                          {"rules", "cache_dir", "compile_time_limit", "compile_memory_limit", "state", "workers",
                           "queue", "admin", "log_level", "log_format", "notify", "retention", "shutdown_deadline",
                           "watch_rules", "forward", "forward_stream", "forward_maxlen", "fields"});
      std::vector<Located> globs;
      section.strings("rules", globs, true);
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
          source.error(diags, "bad-value", place(*limit), "compile_time_limit must be above 0");
        } else {
          config.compile_time_limit = *seconds;
        }
      }
      if (const toml::node* limit = section.get("compile_memory_limit")) {
        if (!limit->is_integer()) {
          section.type_error(*limit, "compile_memory_limit", "a whole number of MiB");
        } else if (*limit->value<int64_t>() <= 0) {
          source.error(diags, "bad-value", place(*limit), "compile_memory_limit must be above 0");
        } else {
          config.compile_memory_limit = *limit->value<int64_t>();
        }
      }
      Located value;
      if (section.string("state", value)) {
        if (value.value.empty()) {
          source.error(diags, "bad-value", value.place, "state must name a file");
        } else {
          config.state = resolve(value.value);
        }
      }
      int64_t number = 0;
      if (section.integer("workers", number)) {
        if (number < 0 || number > 256) {
          source.error(diags, "bad-value", place(*section.get("workers")), "workers must be 0 (one per core) to 256");
        } else {
          config.workers = static_cast<int>(number);
        }
      }
      if (section.integer("queue", number)) {
        if (number < 1) {
          source.error(diags, "bad-value", place(*section.get("queue")), "queue must be at least 1 post");
        } else {
          config.queue = number;
        }
      }
      if (section.string("admin", value)) {
        if (!parse_listen_address(value.value)) {
          source.error(diags, "bad-value", value.place,
                       "admin must be host:port, such as \"127.0.0.1:9108\" or \"[::1]:9108\"");
        } else {
          config.admin = value.value;
        }
      }
      if (section.string("log_level", value)) {
        static const std::vector<std::string> kLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
        if (std::find(kLevels.begin(), kLevels.end(), value.value) == kLevels.end()) {
          source.error(diags, "bad-value", value.place,
                       "log_level '" + value.value + "' is not one of trace, debug, info, warn, error, critical, off");
        } else {
          config.log_level = value.value;
        }
      }
      if (section.string("log_format", value)) {
        if (value.value != "text" && value.value != "json") {
          source.error(diags, "bad-value", value.place, "log_format must be text or json");
        } else {
          config.log_format = value.value;
        }
      }
      section.strings("notify", notify, true);
      std::vector<Located> fields;
      section.strings("fields", fields, true);
      for (const auto& f : fields) config.fields.push_back(f.value);
      for (const char* key : {"retention", "shutdown_deadline"}) {
        if (const toml::node* n = section.get(key)) {
          std::optional<double> seconds;
          if (n->is_integer() || n->is_floating_point()) seconds = *n->value<double>();
          if (n->is_string()) seconds = parse_duration(*n->value<std::string>());
          if (!seconds || *seconds < 0) {
            section.type_error(*n, key, "a duration (seconds, or \"30s\", \"5m\", \"2h\", \"30d\")");
          } else {
            (std::string(key) == "retention" ? config.retention : config.shutdown_deadline) = *seconds;
          }
        }
      }
      section.boolean("watch_rules", config.watch_rules);
      if (section.string("forward", value)) {
        Result<std::string> url = expand_env(value.value);
        if (!url) {
          source.error(diags, "bad-value", value.place, "forward: " + url.error());
        } else if (!url->starts_with("redis://") && !url->starts_with("unix://")) {
          source.error(diags, "bad-value", value.place,
                       "forward must be a Redis URL: redis://host:port/db or unix:///path/to/redis.sock");
        } else if (Result<void> ok = check_forward_options({*url}); !ok) {
          source.error(diags, "bad-value", value.place, ok.error());
        } else {
          config.forward = *url;
        }
      }
      if (section.string("forward_stream", value)) {
        if (value.value.empty()) {
          source.error(diags, "bad-value", value.place, "forward_stream must name a stream");
        } else {
          config.forward_stream = value.value;
        }
      }
      if (section.integer("forward_maxlen", number)) {
        if (number < 1) {
          source.error(diags, "bad-value", place(*section.get("forward_maxlen")), "forward_maxlen must be at least 1");
        } else {
          config.forward_maxlen = number;
        }
      }
    } else {
      top.type_error(*node, "lodestone", "a table");
    }
  }

  auto tables_of = [&](const char* key, auto&& each) {
    const toml::node* node = top.get(key);
    if (!node) return;
    const toml::array* array = node->as_array();
    if (!array || !array->is_array_of_tables()) {
      top.type_error(*node, key, "an array of tables");
      return;
    }
    for (const auto& item : *array) each(*item.as_table());
  };

  std::set<std::string> source_names;
  std::vector<std::string> source_types;
  for (const SourceKind* k : source_kinds()) source_types.push_back(k->type);
  tables_of("source", [&](const toml::table& t) {
    SourceConfig s;
    s.place = rules::place_of(t.source(), path);
    if (!name_and_type(source, diags, t, "[[source]]", source_names, s.name, s.type, source_types)) {
      // Still report unknown keys of a known type's table, and nothing more.
      return;
    }
    const SourceKind* kind = find_source_kind(s.type);
    if (!read_options(source, diags, t, "[[source]] '" + s.name + "'", kind->options, {"name", "type"}, s.values)) {
      return;
    }
    if (auto checked = kind->make(s.name, s.values, config.base, nullptr); !checked) {
      source.error(diags, "bad-value", s.place, "source '" + s.name + "': " + checked.error());
      return;
    }
    config.sources.push_back(std::move(s));
  });

  std::set<std::string> notifier_names;
  std::vector<std::string> notifier_types;
  for (const NotifierKind* k : notifier_kinds()) notifier_types.push_back(k->type);
  tables_of("notifier", [&](const toml::table& t) {
    NotifierConfig n;
    n.place = rules::place_of(t.source(), path);
    if (!name_and_type(source, diags, t, "[[notifier]]", notifier_names, n.name, n.type, notifier_types)) return;
    const NotifierKind* kind = find_notifier_kind(n.type);
    std::vector<OptionSpec> specs(kind->options.begin(), kind->options.end());
    specs.insert(specs.end(), std::begin(kRetryOptions), std::end(kRetryOptions));
    if (!read_options(source, diags, t, "[[notifier]] '" + n.name + "'", specs, {"name", "type"}, n.values)) return;
    n.retry.max_attempts = static_cast<int>(n.values.integer("max_attempts", n.retry.max_attempts));
    n.retry.initial_backoff = n.values.number("backoff", n.retry.initial_backoff);
    n.retry.max_backoff = n.values.number("max_backoff", n.retry.max_backoff);
    n.retry.max_age = n.values.number("max_age", n.retry.max_age);
    if (n.retry.max_attempts < 1) {
      source.error(diags, "bad-value", n.values.place("max_attempts"), "max_attempts must be at least 1");
      return;
    }
    // Relative paths of file notifiers and templates start at the config's folder.
    for (const char* key : {"path", "template", "text_template", "ca_file"}) {
      if (n.values.has(key)) n.values.values_[key].text = resolve(n.values.string(key));
    }
    if (auto checked = kind->make(n.name, n.values); !checked) {
      source.error(diags, "bad-value", n.place, "notifier '" + n.name + "': " + checked.error());
      return;
    }
    config.notifiers.push_back(std::move(n));
  });

  for (const auto& name : notify) {
    if (!notifier_names.count(name.value)) {
      std::vector<std::string> names(notifier_names.begin(), notifier_names.end());
      std::string msg = "notify names '" + name.value + "', which no [[notifier]] defines";
      if (auto near = rules::did_you_mean(name.value, names)) msg += " (did you mean '" + *near + "'?)";
      source.error(diags, "unknown-notifier", name.place, msg);
    } else {
      config.notify.push_back(name.value);
    }
  }
  if (notify.empty()) {
    for (const auto& n : config.notifiers) config.notify.push_back(n.name);
  }
  if (config.state.empty()) config.state = resolve("lodestone.db");

  if (diags.error_count() > errors) return std::nullopt;
  if (config.rules.empty() && config.forward.empty()) {
    diags.error("missing-key", {path, 0, 0}, "the config names no rules: add [lodestone] rules = [\"rules/*.toml\"]");
    return std::nullopt;
  }
  return config;
}

}  // namespace lodestone::cli
