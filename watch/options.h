// Options of a [[source]] or [[notifier]] table: each kind declares its keys (name, type, default,
// help) in a table, and read_options() checks a TOML table against it with file:line:col errors,
// expanding ${ENV} and reading `<key>_file` for secrets. Plain values; any thread.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "lodestone/diagnostics.h"
#include "rules/toml_source.h"

namespace lodestone {

enum class OptionType {
  kString,    // a string; ${ENV} expanded
  kSecret,    // a string that is never shown: `key = "${ENV}"` or `key_file = "path"` (mode 0600 or stricter)
  kNumber,    // an integer or a float
  kInteger,   // an integer
  kDuration,  // seconds: a number, or a string "90s", "5m", "2h", "1d"
  kBool,
  kStrings,   // an array of strings (a lone string is a one-element list); ${ENV} expanded
  kHeaders,   // a table of string → string; ${ENV} expanded
};

struct OptionSpec {
  const char* key;
  OptionType type;
  const char* default_text;  // as shown in help; "" when there is none
  const char* help;
  bool required = false;
};

// The values a table gave, by key, with where each was written.
class OptionValues {
 public:
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  // The value, or `fallback` when the table did not give the key.
  std::string string(const std::string& key, std::string fallback = {}) const;
  double number(const std::string& key, double fallback) const;
  int64_t integer(const std::string& key, int64_t fallback) const;
  bool boolean(const std::string& key, bool fallback) const;
  std::vector<std::string> strings(const std::string& key) const;
  std::vector<std::pair<std::string, std::string>> headers(const std::string& key) const;
  // Where the key (or its `_file` twin) was written; the table's own place when absent.
  SourcePlace place(const std::string& key) const;

  struct Value {
    std::string text;
    double number = 0;
    std::vector<std::string> list;
    std::vector<std::pair<std::string, std::string>> pairs;
    SourcePlace place;
  };
  std::map<std::string, Value> values_;
  SourcePlace table_place;
};

// Checks `table` against `specs` plus the keys every table of its kind has (`common`, read by
// the caller). Unknown keys, wrong types, unset environment variables, unreadable or
// group/world-readable secret files are errors at their place; a secret's value never appears
// in a message. Returns false when it added an error.
bool read_options(const rules::TomlSource& file, Diagnostics& diags, const toml::table& table, const std::string& what,
                  std::span<const OptionSpec> specs, const std::vector<std::string>& common, OptionValues& out);

// "90s", "5m", "2h", "1d", "1.5h" or a plain number of seconds; nullopt when it is none of these.
std::optional<double> parse_duration(std::string_view text);

// Replaces each ${NAME} with the environment variable's value. Returns false and sets `missing`
// to the first variable that is unset. "$${" writes a literal "${".
bool expand_env(std::string_view text, std::string& out, std::string& missing);

// Reads a secret from `path`, refusing a file that group or others may read (the message says
// which chmod fixes it). A trailing line break is dropped.
bool read_secret_file(const std::string& path, std::string& out, std::string& error);

}  // namespace lodestone
