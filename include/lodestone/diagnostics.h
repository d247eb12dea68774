// Diagnostics: the errors and warnings a load reports, each with its place in a file.
// Plain values; build and read them from any thread, share none while one thread still adds to it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lodestone {

enum class Severity { kError, kWarning };

// A place in a source file. Lines and columns are 1-based; columns count Unicode code points,
// as toml++ does. line == 0 means "the whole file" (an unreadable file, say).
struct SourcePlace {
  std::string file;
  uint32_t line = 0;
  uint32_t column = 0;
};

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string code;  // stable, short: "unknown-key", "duplicate-id", "query-syntax", ...
  SourcePlace place;
  std::string message;
  std::string source_line;  // the offending line as written, without its line break; may be empty
};

// Every diagnostic of one load, in the order found. A load succeeds when it holds no error.
class Diagnostics {
 public:
  void add(Diagnostic d) { items_.push_back(std::move(d)); }
  void error(std::string code, SourcePlace place, std::string message, std::string source_line = {});
  void warning(std::string code, SourcePlace place, std::string message, std::string source_line = {});

  bool has_errors() const;
  size_t error_count() const;
  const std::vector<Diagnostic>& items() const { return items_; }
  bool empty() const { return items_.empty(); }
  void append(const Diagnostics& other);

 private:
  std::vector<Diagnostic> items_;
};

// "file:line:col: error: message", then the source line and a caret under the column.
std::string format_diagnostic(const Diagnostic& d);
std::string format_diagnostics(const Diagnostics& d);

}  // namespace lodestone
