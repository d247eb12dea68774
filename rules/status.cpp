// Diagnostics and their `file:line:col` rendering with a caret under the column.
#include "lodestone/status.h"

#include <algorithm>

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

// Terminal cells a code point takes: East Asian wide and full-width characters take two, so the
// caret lands under the right character of a line with Chinese text in it.
int cell_width(char32_t c) {
  if (c < 0x1100) return 1;
  if ((c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF && c != 0x303F) || (c >= 0xAC00 && c <= 0xD7A3) ||
      (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
      (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1FAFF) || (c >= 0x20000 && c <= 0x3FFFD)) {
    return 2;
  }
  return 1;
}

// The caret line: white space up to the cell where code point column `column` (1-based) starts.
std::string caret_line(const std::string& line, uint32_t column) {
  std::string out;
  uint32_t col = 1;
  for (size_t i = 0; i < line.size() && col < column; ++col) {
    unsigned char b = static_cast<unsigned char>(line[i]);
    char32_t c = b;
    size_t len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    if (len > 1 && i + len <= line.size()) {
      c = b & (0x3F >> (len - 1));
      for (size_t k = 1; k < len; ++k) c = (c << 6) | (static_cast<unsigned char>(line[i + k]) & 0x3F);
    }
    i += len;
    out.append(line[i - len] == '\t' ? "\t" : std::string(static_cast<size_t>(cell_width(c)), ' '));
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
