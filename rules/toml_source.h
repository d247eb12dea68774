// TOML files with places: parsing with file:line:col errors, a guard against toml++ 3.3's
// undefined behaviour, and checking a table's keys and value types. Shared by rule files and
// lodestone.toml. Plain values; use from one thread at a time.
#pragma once

#include <toml++/toml.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lodestone/diagnostics.h"

namespace lodestone::rules {

// A string value and the place of its first character (the opening quote for a string).
struct Located {
  std::string value;
  SourcePlace place;
};

// The text of one TOML file, kept for diagnostics: each error shows its line and a caret.
class TomlSource {
 public:
  std::string path;

  void set_text(std::string_view text);
  // Line `n` (1-based) as written, without its line break; empty past the end.
  std::string line(uint32_t n) const;
  // The place of byte `offset` of the decoded value of the TOML string written at `start`
  // (its opening quote), accounting for escapes and multi-line strings.
  SourcePlace place_in_string(const SourcePlace& start, size_t offset) const;

  void error(Diagnostics& diags, std::string code, const SourcePlace& place, std::string message) const;
  void warning(Diagnostics& diags, std::string code, const SourcePlace& place, std::string message) const;

 private:
  std::vector<std::string> lines_;
};

// Sets `source`'s text and parses it. A syntax error, or input toml++ cannot be given safely
// (check_toml_hazards), is added to `diags` and gives nothing.
std::optional<toml::table> parse_toml(TomlSource& source, std::string_view text, Diagnostics& diags);

// Reads a whole file; false when it cannot be read.
bool read_text_file(const std::string& path, std::string& out);

// Finds what Debian's toml++ 3.3 cannot be given safely: a non-ASCII character outside strings
// and comments, or first on a line continued by a line-ending backslash in a multi-line basic
// string, reach __builtin_unreachable in its white-space test (upstream issues #190, #295).
// Reports an error at the character and returns false; TOML allows neither outside strings.
bool check_toml_hazards(const TomlSource& file, std::string_view text, Diagnostics& diags);

SourcePlace place_of(const toml::source_region& region, const std::string& path);
// "a string", "an integer", ... for messages.
const char* type_name(const toml::node& node);

// The candidate closest to `word` by edit distance, when it is close enough to be a likely typo.
std::optional<std::string> did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

// Reads one table's values, reporting at construction each key the table's kind does not allow
// (with a did-you-mean), and at each read a value of the wrong type.
class TableReader {
 public:
  TableReader(const TomlSource& file, Diagnostics& diags, const toml::table& table, std::string what,
              std::vector<std::string> known);

  const toml::node* get(const char* key) const { return table_.get(key); }
  // Each returns false when the key is absent or (reported) of the wrong type.
  bool string(const char* key, Located& out) const;
  bool boolean(const char* key, bool& out) const;
  bool integer(const char* key, int64_t& out) const;
  // An array of strings; a lone string is taken as a one-element list where `lone_ok`.
  bool strings(const char* key, std::vector<Located>& out, bool lone_ok = false) const;
  bool strings_of(const toml::node& n, const std::string& key, std::vector<Located>& out, bool lone_ok) const;
  void type_error(const toml::node& n, const std::string& key, const char* expected) const;

 private:
  const TomlSource& file_;
  Diagnostics& diags_;
  const toml::table& table_;
};

}  // namespace lodestone::rules
