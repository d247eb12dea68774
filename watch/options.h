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
#include "lodestone/result.h"
#include "rules/toml_source.h"

namespace lodestone {

enum class OptionType {
  kString,    // a string; ${ENV} expanded
  kSecret,    // a string that is never shown: `key = "${ENV}"` or `key_file = "path"` (mode 0600 or stricter)
  kNumber,    // an integer or a float
  kInteger,   // an integer
  kCount,     // an integer above 0 (a batch size, a byte limit, a thread count)
  kDuration,  // seconds: a number, or a string "90s", "5m", "2h", "1d"
  kBool,
  kStrings,   // an array of strings (a lone string is a one-element list); ${ENV} expanded
  kHeaders,   // a table of string → string; ${ENV} expanded
};

// One option of a kind. The default is written once, as the initializer of the field of the
// kind's options struct (JsonlOptions, WebhookOptions, ...); its table shows it with the
// *_text() helpers below, and docs/config.md shows the same (tests/cli/registry_test.cpp checks).
struct OptionSpec {
  const char* key;
  OptionType type;
  std::string default_text;  // as a config would write it ("10s", "256", "json"); "" when there is none
  const char* help;
  bool required = false;
};

// Defaults as a config writes them: 10 → "10s", 300 → "5m", 0.2 → "0.2s", 3600 → "1h".
std::string duration_text(double seconds);
std::string integer_text(int64_t n);
std::string number_text(double n);  // 0.1 → "0.1", 2 → "2"
inline std::string bool_text(bool b) { return b ? "true" : "false"; }
std::string strings_text(const std::vector<std::string>& list);  // ["a", "b"]

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

// `text` with each ${NAME} replaced by the environment variable's value; "$${" writes a literal
// "${". Fails on the first variable that is unset: "${NAME}, which is not set in the environment".
Result<std::string> expand_env(std::string_view text);

// A secret read from `path`, refusing a file that group or others may read (the message says
// which chmod fixes it). A trailing line break is dropped.
Result<std::string> read_secret_file(const std::string& path);

}  // namespace lodestone
