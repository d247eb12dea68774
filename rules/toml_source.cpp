// TOML sources: reading with places, the toml++ 3.3 guard, and checking tables' keys and types.
#include "rules/toml_source.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace lodestone::rules {
namespace {

size_t utf8_length(std::string_view s, size_t byte) {
  size_t n = 0;
  for (size_t i = 0; i < byte && i < s.size(); ++i) n += (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
  return n;
}

// Byte index of 1-based code point column `column` in `line`.
size_t byte_of_column(const std::string& line, uint32_t column) {
  size_t i = 0;
  for (uint32_t c = 1; c < column && i < line.size(); ++c) {
    ++i;
    while (i < line.size() && (static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) ++i;
  }
  return i;
}

}  // namespace

SourcePlace place_of(const toml::source_region& r, const std::string& path) {
  return {path, r.begin.line, r.begin.column};
}

const char* type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

void TomlSource::set_text(std::string_view text) {
  lines_.clear();
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines_.push_back(line);
  }
}

std::string TomlSource::line(uint32_t n) const { return n >= 1 && n <= lines_.size() ? lines_[n - 1] : std::string(); }

void TomlSource::error(Diagnostics& diags, std::string code, const SourcePlace& place, std::string message) const {
  diags.error(std::move(code), place, std::move(message), line(place.line));
}

void TomlSource::warning(Diagnostics& diags, std::string code, const SourcePlace& place, std::string message) const {
  diags.warning(std::move(code), place, std::move(message), line(place.line));
}

SourcePlace TomlSource::place_in_string(const SourcePlace& start, size_t offset) const {
  uint32_t ln = start.line;
  if (ln < 1 || ln > lines_.size()) return start;
  const std::string* text = &lines_[ln - 1];
  size_t i = byte_of_column(*text, start.column);
  auto here = [&] { return SourcePlace{start.file, ln, static_cast<uint32_t>(utf8_length(*text, i) + 1)}; };
  if (i >= text->size()) return start;
  const char quote = (*text)[i];
  if (quote != '"' && quote != '\'') return start;
  const bool multi = text->compare(i, 3, std::string(3, quote)) == 0;
  const bool basic = quote == '"';
  i += multi ? 3 : 1;
  auto next_line = [&] {
    if (ln >= lines_.size()) return false;
    text = &lines_[ln++];
    i = 0;
    return true;
  };
  if (multi && i >= text->size()) next_line();  // a newline right after ''' or """ is trimmed
  size_t decoded = 0;
  while (true) {
    if (i >= text->size()) {
      if (!multi || !next_line()) return here();
      if (decoded >= offset) return here();
      ++decoded;  // the line break
      continue;
    }
    if (decoded >= offset) return here();
    char c = (*text)[i];
    if (basic && c == '\\') {
      char e = i + 1 < text->size() ? (*text)[i + 1] : '\n';
      if (e == 'u' || e == 'U') {
        size_t digits = e == 'u' ? 4 : 8;
        unsigned long cp = std::strtoul(text->substr(i + 2, digits).c_str(), nullptr, 16);
        decoded += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        i += 2 + digits;
      } else if (multi && (e == '\n' || e == ' ' || e == '\t')) {
        // A line-ending backslash trims the break and the white space after it.
        while (true) {
          if (!next_line()) return here();
          while (i < text->size() && (*text)[i] == ' ') ++i;
          if (i < text->size()) break;
        }
      } else {
        decoded += 1;
        i += 2;
      }
      continue;
    }
    ++decoded;
    ++i;
  }
}

bool check_toml_hazards(const TomlSource& file, std::string_view text, Diagnostics& diags) {
  enum class State { kCode, kComment, kBasic, kLiteral, kMultiBasic, kMultiLiteral } state = State::kCode;
  uint32_t line = 1;
  size_t line_start = 0;
  bool line_start_code = true;  // nothing but white space yet on this line, outside strings
  char previous = '\n';         // the last character outside strings, white space and comments
  auto place = [&](size_t at) {
    return SourcePlace{file.path, line,
                       static_cast<uint32_t>(utf8_length(text.substr(line_start), at - line_start) + 1)};
  };
  auto starts = [&](size_t i, std::string_view what) { return text.substr(i, what.size()) == what; };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      line_start = i + 1;
      if (state == State::kComment || state == State::kBasic || state == State::kLiteral) state = State::kCode;
      if (state == State::kCode) line_start_code = true;
      continue;
    }
    switch (state) {
      case State::kCode: {
        // A quote opens a string only where TOML allows a key or a value to start; elsewhere
        // (`=-"x"`) toml++ rejects it, and what follows must not be taken for string text.
        const bool may_open = line_start_code || previous == '=' || previous == '[' || previous == ',' ||
                              previous == '{' || previous == '.';
        if (c == '#') {
          state = State::kComment;
        } else if (c == '"' && may_open) {
          state = starts(i, "\"\"\"") ? State::kMultiBasic : State::kBasic;
          if (state == State::kMultiBasic) i += 2;
        } else if (c == '\'' && may_open) {
          state = starts(i, "'''") ? State::kMultiLiteral : State::kLiteral;
          if (state == State::kMultiLiteral) i += 2;
        } else if (static_cast<unsigned char>(c) >= 0x80) {
          file.error(diags, "toml-syntax", place(i),
                     "unexpected non-ASCII character outside a string; put text in quotes");
          return false;
        }
        if (c != ' ' && c != '\t' && c != '\r') {
          previous = c;
          line_start_code = false;
        }
        break;
      }
      case State::kComment:
        break;
      case State::kBasic:
        if (c == '\\') {
          ++i;
        } else if (c == '"') {
          state = State::kCode;
          previous = c;
        }
        break;
      case State::kLiteral:
        if (c == '\'') {
          state = State::kCode;
          previous = c;
        }
        break;
      case State::kMultiBasic:
        if (starts(i, "\"\"\"")) {
          i += 2;
          while (i + 1 < text.size() && text[i + 1] == '"') ++i;  // up to two quotes may end the string
          state = State::kCode;
          previous = '"';
        } else if (c == '\\') {
          size_t j = i + 1;
          while (j < text.size() && (text[j] == ' ' || text[j] == '\t' || text[j] == '\r')) ++j;
          if (j < text.size() && text[j] == '\n') {
            // A line-ending backslash: toml++ skips the white space after it character by character.
            size_t k = j;
            while (k < text.size() && (text[k] == ' ' || text[k] == '\t' || text[k] == '\r' || text[k] == '\n')) {
              if (text[k] == '\n') {
                ++line;
                line_start = k + 1;
              }
              ++k;
            }
            if (k < text.size() && static_cast<unsigned char>(text[k]) >= 0x80) {
              file.error(diags, "toml-syntax", place(k),
                         "a line continued with a line-ending backslash must not start with a non-ASCII "
                         "character (toml++ 3.3 cannot read it); drop the backslash");
              return false;
            }
            i = k - 1;
          } else {
            ++i;
          }
        }
        break;
      case State::kMultiLiteral:
        if (starts(i, "'''")) {
          i += 2;
          while (i + 1 < text.size() && text[i + 1] == '\'') ++i;
          state = State::kCode;
          previous = '\'';
        }
        break;
    }
  }
  return true;
}

std::optional<toml::table> parse_toml(TomlSource& source, std::string_view text, Diagnostics& diags) {
  source.set_text(text);
  if (!check_toml_hazards(source, text, diags)) return std::nullopt;
  toml::parse_result parsed = toml::parse(text, std::string_view(source.path));
  if (!parsed) {
    const toml::parse_error& err = parsed.error();
    source.error(diags, "toml-syntax", place_of(err.source(), source.path), std::string(err.description()));
    return std::nullopt;
  }
  return std::move(parsed).table();
}

bool read_text_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buf;
  buf << in.rdbuf();
  out = buf.str();
  return true;
}

std::optional<std::string> did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  size_t best = SIZE_MAX;
  const std::string* best_word = nullptr;
  std::vector<size_t> prev, cur;
  for (const auto& cand : candidates) {
    prev.resize(cand.size() + 1);
    cur.resize(cand.size() + 1);
    for (size_t j = 0; j <= cand.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= word.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= cand.size(); ++j) {
        size_t sub = prev[j - 1] + (word[i - 1] == cand[j - 1] ? 0 : 1);
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      }
      std::swap(prev, cur);
    }
    if (prev[cand.size()] < best) {
      best = prev[cand.size()];
      best_word = &cand;
    }
  }
  if (!best_word || best == 0) return std::nullopt;
  size_t allowed = std::max<size_t>(2, word.size() / 3);
  if (best > allowed) return std::nullopt;
  return *best_word;
}

TableReader::TableReader(const TomlSource& file, Diagnostics& diags, const toml::table& table, std::string what,
                         std::vector<std::string> known)
    : file_(file), diags_(diags), table_(table) {
  for (auto&& [key, node] : table_) {
    (void)node;
    std::string k(key.str());
    if (std::find(known.begin(), known.end(), k) != known.end()) continue;
    std::string msg = "unknown key '" + k + "' in " + what;
    if (auto near = did_you_mean(k, known)) msg += " (did you mean '" + *near + "'?)";
    file_.error(diags_, "unknown-key", place_of(key.source(), file_.path), msg);
  }
}

bool TableReader::string(const char* key, Located& out) const {
  const toml::node* n = table_.get(key);
  if (!n) return false;
  if (auto s = n->value<std::string>(); s && n->is_string()) {
    out.value = *s;
    out.place = place_of(n->source(), file_.path);
    return true;
  }
  type_error(*n, key, "a string");
  return false;
}

bool TableReader::boolean(const char* key, bool& out) const {
  const toml::node* n = table_.get(key);
  if (!n) return false;
  if (n->is_boolean()) {
    out = *n->value<bool>();
    return true;
  }
  type_error(*n, key, "true or false");
  return false;
}

bool TableReader::integer(const char* key, int64_t& out) const {
  const toml::node* n = table_.get(key);
  if (!n) return false;
  if (n->is_integer()) {
    out = *n->value<int64_t>();
    return true;
  }
  type_error(*n, key, "an integer");
  return false;
}

bool TableReader::strings(const char* key, std::vector<Located>& out, bool lone_ok) const {
  const toml::node* n = table_.get(key);
  if (!n) return false;
  return strings_of(*n, key, out, lone_ok);
}

bool TableReader::strings_of(const toml::node& n, const std::string& key, std::vector<Located>& out,
                             bool lone_ok) const {
  if (lone_ok && n.is_string()) {
    out.push_back({*n.value<std::string>(), place_of(n.source(), file_.path)});
    return true;
  }
  const toml::array* arr = n.as_array();
  if (!arr) {
    type_error(n, key, "an array of strings");
    return false;
  }
  bool ok = true;
  for (const toml::node& item : *arr) {
    if (item.is_string()) {
      out.push_back({*item.value<std::string>(), place_of(item.source(), file_.path)});
    } else {
      file_.error(diags_, "wrong-type", place_of(item.source(), file_.path),
                  "'" + key + "' must hold strings only, not " + type_name(item));
      ok = false;
    }
  }
  return ok;
}

void TableReader::type_error(const toml::node& n, const std::string& key, const char* expected) const {
  file_.error(diags_, "wrong-type", place_of(n.source(), file_.path),
              "'" + key + "' must be " + expected + ", not " + type_name(n));
}

}  // namespace lodestone::rules
