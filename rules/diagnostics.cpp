// Diagnostics and their `file:line:col` rendering with a caret under the column.
#include "lodestone/diagnostics.h"

#include <algorithm>

#include "text/normalizer.h"

namespace lodestone {

void Diagnostics::error(std::string code, SourcePlace place, std::string message, std::string source_line) {
  items_.push_back({Severity::kError, std::move(code), std::move(place), std::move(message), std::move(source_line)});
}

void Diagnostics::warning(std::string code, SourcePlace place, std::string message, std::string source_line) {
  items_.push_back({Severity::kWarning, std::move(code), std::move(place), std::move(message), std::move(source_line)});
}

bool Diagnostics::has_errors() const { return error_count() > 0; }

size_t Diagnostics::error_count() const {
  return static_cast<size_t>(
      std::count_if(items_.begin(), items_.end(), [](const Diagnostic& d) { return d.severity == Severity::kError; }));
}

void Diagnostics::append(const Diagnostics& other) {
  items_.insert(items_.end(), other.items_.begin(), other.items_.end());
}

namespace {

// The caret line: white space up to the cell where code point column `column` (1-based) starts.
std::string caret_line(const std::string& line, uint32_t column) {
  std::string out;
  uint32_t col = 1;
  for (size_t i = 0; i < line.size() && col < column; ++col) {
    const char32_t c = decode_utf8_at(line, i);
    i += utf8_sequence_length(static_cast<unsigned char>(line[i]));
    out.append(c == U'\t' ? "\t" : std::string(static_cast<size_t>(cell_width(c)), ' '));
  }
  out += '^';
  return out;
}

}  // namespace

std::string format_diagnostic(const Diagnostic& d) {
  std::string out = d.place.file;
  if (d.place.line > 0) {
    out += ':' + std::to_string(d.place.line);
    if (d.place.column > 0) out += ':' + std::to_string(d.place.column);
  }
  out += d.severity == Severity::kError ? ": error: " : ": warning: ";
  out += d.message;
  if (!d.source_line.empty()) {
    out += "\n  " + d.source_line;
    if (d.place.column > 0) out += "\n  " + caret_line(d.source_line, d.place.column);
  }
  return out;
}

std::string format_diagnostics(const Diagnostics& d) {
  std::string out;
  for (const auto& item : d.items()) {
    out += format_diagnostic(item);
    out += '\n';
  }
  return out;
}

}  // namespace lodestone
