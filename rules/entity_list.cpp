// Reading entity lists: CSV (RFC 4180, quoted fields may span lines), TSV (tab-separated, no
// quoting) and JSONL, then the list's options. Every skipped row is counted with its reason; the
// first few of each file are also warnings at file:line.
#include "rules/entity_list.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <optional>
#include <set>
#include <unordered_map>

#include "text/normalizer.h"

namespace lodestone::rules {

using compiled::EntityListInfo;

namespace {

constexpr size_t kWarningsPerFile = 10;  // further malformed rows are counted, not each shown

// One record of a list file: CSV/TSV cells, or a JSON object.
struct Record {
  uint32_t line = 0;
  std::vector<std::string> cells;
  nlohmann::json object;
  std::string problem;  // why the record cannot be read at all
};

// A column's value in a record: nothing (absent or empty), one string, or several (a JSON array).
struct Cell {
  std::vector<std::string> values;
  std::string problem;  // the record lacks the column or holds the wrong type there
};

std::string trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return std::string(s.substr(b, e - b));
}

bool valid_utf8(std::string_view s) {
  std::string repaired;
  return repair_utf8(s, repaired) == 0;
}

// Reads the CSV record starting at text[i], moving i past it. False when a quote is left open
// to the end of the text.
bool read_csv_record(std::string_view text, size_t& i, uint32_t& line, Record& rec) {
  const size_t n = text.size();
  std::string cell;
  while (true) {
    cell.clear();
    size_t j = i;
    while (j < n && text[j] == ' ') ++j;
    if (j < n && text[j] == '"') {
      bool closed = false;
      for (++j; j < n && !closed; ++j) {
        if (text[j] != '"') {
          if (text[j] == '\n') ++line;
          cell += text[j];
        } else if (j + 1 < n && text[j + 1] == '"') {
          cell += '"';
          ++j;
        } else {
          closed = true;
        }
      }
      if (!closed) return false;
      while (j < n && (text[j] == ' ' || text[j] == '\r')) ++j;
      if (j < n && text[j] != ',' && text[j] != '\n') rec.problem = "text after a closing quote";
    }
    while (j < n && text[j] != ',' && text[j] != '\n') cell += text[j++];
    rec.cells.push_back(trim(cell));
    i = j + 1;
    if (j >= n || text[j] == '\n') {
      if (j < n) ++line;
      return true;
    }
  }
}

// Splits CSV text into records. A quote left open to the end of the file makes its record
// malformed, and reading resumes on the line after the record's first.
void split_csv(std::string_view text, const std::function<void(Record&)>& each) {
  size_t i = 0;
  uint32_t line = 1;
  while (i < text.size()) {
    Record rec;
    rec.line = line;
    const size_t start = i;
    const bool closed = read_csv_record(text, i, line, rec);
    // A bad record whose quote ran past its line most likely took a stray quote for an opening
    // one: only its first line is lost, and reading resumes after it.
    if (!closed || (!rec.problem.empty() && line > rec.line + 1)) {
      rec.cells.clear();
      rec.problem = closed ? "a quote is not closed on its line" : "a quoted value is never closed";
      const size_t k = text.find('\n', start);
      i = k == std::string_view::npos ? text.size() : k + 1;
      line = rec.line + 1;
      each(rec);
      continue;
    }
    if (rec.cells.size() == 1 && rec.cells[0].empty() && rec.problem.empty()) continue;  // a blank line
    each(rec);
  }
}

// Calls f(line number, line) for each line of `text` that is not blank.
void for_each_line(std::string_view text, const std::function<void(uint32_t, std::string_view)>& f) {
  uint32_t line = 0;
  for (size_t i = 0; i < text.size();) {
    size_t e = text.find('\n', i);
    if (e == std::string_view::npos) e = text.size();
    const std::string_view row = text.substr(i, e - i);
    ++line;
    i = e + 1;
    if (!trim(row).empty()) f(line, row);
  }
}

void split_tsv(std::string_view text, const std::function<void(Record&)>& each) {
  for_each_line(text, [&](uint32_t line, std::string_view row) {
    Record rec;
    rec.line = line;
    for (size_t b = 0;;) {
      const size_t t = row.find('\t', b);
      rec.cells.push_back(trim(row.substr(b, t == std::string_view::npos ? std::string_view::npos : t - b)));
      if (t == std::string_view::npos) break;
      b = t + 1;
    }
    each(rec);
  });
}

void split_jsonl(std::string_view text, const std::function<void(Record&)>& each) {
  for_each_line(text, [&](uint32_t line, std::string_view row) {
    Record rec;
    rec.line = line;
    rec.object = nlohmann::json::parse(row, nullptr, false);
    if (rec.object.is_discarded()) {
      rec.problem = "not valid JSON";
    } else if (!rec.object.is_object()) {
      rec.problem = "not a JSON object";
    }
    each(rec);
  });
}

// One list file being read: its records, header and warnings.
class ListFile {
 public:
  ListFile(const RuleFile& rules, const ListFileDef& def, EntityListInfo& info, Diagnostics& diags)
      : rules_(rules), def_(def), info_(info), diags_(diags) {}

  bool read(std::string& text) {
    std::error_code ec;
    if (std::filesystem::exists(def_.path, ec) && !std::filesystem::is_regular_file(def_.path, ec)) {
      // A device or a pipe could be read forever.
      rules_.error(diags_, "unreadable", def_.file.place, "list file '" + def_.path + "' is not a regular file");
      return false;
    }
    if (!read_text_file(def_.path, text)) {
      rules_.error(diags_, "unreadable", def_.file.place, "cannot read list file '" + def_.path + "'");
      return false;
    }
    if (text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
    // A DOS end-of-file mark (0x1A), as the SDN files end with, is not a row.
    while (!text.empty() && (text.back() == '\x1A' || text.back() == '\n' || text.back() == '\r')) {
      if (text.back() == '\x1A') {
        text.pop_back();
      } else if (text.size() >= 2 && text[text.size() - 2] == '\x1A') {
        text.erase(text.size() - 2, 1);
      } else {
        break;
      }
    }
    return true;
  }

  // Calls f for each data record once `columns` are found: a named column in the header (read
  // first), a numbered one as it is. False, with an error at the first column the header lacks,
  // when one is missing; f is then not called. A file without data rows still checks them.
  bool each(std::string_view text, std::initializer_list<ColumnRef*> columns, const std::function<void(Record&)>& f) {
    bool header_due = def_.header && def_.format != "jsonl";
    bool resolved = false;
    bool ok = true;
    auto resolve_all = [&] {
      resolved = true;
      for (ColumnRef* c : columns) {
        if (!(ok = resolve(*c))) break;
      }
    };
    auto handle = [&](Record& rec) {
      if (header_due) {
        header_due = false;
        header_ = rec.cells;
        return;
      }
      if (!resolved) resolve_all();
      if (!ok) return;
      ++info_.rows;
      if (!rec.problem.empty()) {
        skip(rec.line, rec.problem);
        return;
      }
      f(rec);
    };
    if (def_.format == "jsonl") {
      split_jsonl(text, handle);
    } else if (def_.format == "tsv") {
      split_tsv(text, handle);
    } else {
      split_csv(text, handle);
    }
    if (!resolved) resolve_all();
    return ok;
  }

  // A named column must be in the header (CSV/TSV); an error at the option otherwise.
  bool resolve(ColumnRef& col) {
    if (!col.set() || col.key.empty() || def_.format == "jsonl") return true;
    if (!def_.header) {
      rules_.error(diags_, "bad-column", col.place,
                   "column '" + col.key + "' is named, but '" + def_.file.value +
                       "' has no header row; give its number or set header = true");
      return false;
    }
    auto it = std::find(header_.begin(), header_.end(), col.key);
    if (it == header_.end()) {
      std::string msg = "column '" + col.key + "' is not in the header of '" + def_.file.value + "'";
      if (auto near = did_you_mean(col.key, header_)) msg += " (did you mean '" + *near + "'?)";
      rules_.error(diags_, "bad-column", col.place, msg);
      return false;
    }
    col.number = static_cast<int>(it - header_.begin()) + 1;
    return true;
  }

  Cell cell(const Record& rec, const ColumnRef& col, const std::vector<std::string>& empty) const {
    Cell out;
    auto add = [&](std::string v) {
      v = trim(v);
      if (v.empty() || std::find(empty.begin(), empty.end(), v) != empty.end()) return;
      out.values.push_back(std::move(v));
    };
    if (def_.format == "jsonl") {
      auto it = rec.object.find(col.key.empty() ? std::to_string(col.number) : col.key);
      if (it == rec.object.end() || it->is_null()) return out;
      if (it->is_string()) {
        add(it->get<std::string>());
      } else if (it->is_number_integer()) {
        add(it->dump());
      } else if (it->is_array()) {
        for (const auto& v : *it) {
          if (v.is_string()) {
            add(v.get<std::string>());
          } else {
            out.problem = "'" + col.key + "' holds a non-string in its array";
          }
        }
      } else {
        out.problem = "'" + col.key + "' is not a string";
      }
      return out;
    }
    if (static_cast<size_t>(col.number) > rec.cells.size()) {
      out.problem = "has " + std::to_string(rec.cells.size()) + " column" + (rec.cells.size() == 1 ? "" : "s") +
                    ", fewer than " + col.describe() + " needs";
      return out;
    }
    add(rec.cells[static_cast<size_t>(col.number) - 1]);
    return out;
  }

  void skip(uint32_t line, const std::string& why) {
    count(info_.skipped_rows, why);
    if (++warned_ <= kWarningsPerFile) {
      diags_.warning("bad-row", {def_.path, line, 1}, "row skipped: " + why);
    }
  }

  void finish() {
    if (warned_ > kWarningsPerFile) {
      diags_.warning("bad-row", {def_.path, 0, 0},
                     std::to_string(warned_ - kWarningsPerFile) + " more skipped rows not shown; see the counts");
    }
  }

  static void count(std::vector<std::pair<std::string, size_t>>& counts, const std::string& why) {
    for (auto& [reason, n] : counts) {
      if (reason == why) {
        ++n;
        return;
      }
    }
    counts.emplace_back(why, 1);
  }

  const ListFileDef& def() const { return def_; }

 private:
  const RuleFile& rules_;
  const ListFileDef& def_;
  EntityListInfo& info_;
  Diagnostics& diags_;
  std::vector<std::string> header_;
  size_t warned_ = 0;
};

// Splits `value` by `sep` (when set) into trimmed, non-empty parts.
std::vector<std::string> split_aliases(const std::vector<std::string>& values, const std::string& sep) {
  std::vector<std::string> out;
  for (const auto& v : values) {
    if (sep.empty()) {
      out.push_back(v);
      continue;
    }
    size_t b = 0;
    while (b <= v.size()) {
      size_t e = v.find(sep, b);
      if (e == std::string::npos) e = v.size();
      std::string part = trim(std::string_view(v).substr(b, e - b));
      if (!part.empty()) out.push_back(std::move(part));
      b = e + sep.size();
    }
  }
  return out;
}

// The width of a name-form text in terminal columns, spaces aside: a wide character (Han, kana,
// Hangul, full-width forms) counts 2, so min_alias_length = 4 keeps 張偉 and drops "AB".
size_t name_length(const std::string& folded) {
  size_t n = 0;
  for (size_t i = 0; i < folded.size(); i += utf8_sequence_length(static_cast<unsigned char>(folded[i]))) {
    const char32_t c = decode_utf8_at(folded, i);
    if (c != U' ') n += static_cast<size_t>(cell_width(c));
  }
  return n;
}

}  // namespace

std::string reorder_last_first(const std::string& name) {
  const size_t comma = name.find(',');
  if (comma == std::string::npos || name.find(',', comma + 1) != std::string::npos) return {};
  std::string last = trim(std::string_view(name).substr(0, comma));
  std::string first = trim(std::string_view(name).substr(comma + 1));
  if (last.empty() || first.empty()) return {};
  return first + " " + last;
}

bool read_entity_list(const RuleFile& file, const EntityListDef& def, EntityList& out, Diagnostics& diags) {
  const auto started = std::chrono::steady_clock::now();
  EntityListInfo& info = out.info;
  info.id = def.id.value;
  info.files.push_back(def.main.path);
  if (def.has_alias_file) info.files.push_back(def.aliases.path);

  struct Row {
    std::string id, name, kind;
    std::vector<std::string> aliases;
  };
  std::vector<Row> rows;
  std::unordered_map<std::string, size_t> by_id;
  std::unordered_map<std::string, uint32_t> id_line;
  std::set<std::string> left_out;  // ids of rows whose kind is not in `kinds`

  std::string text;
  ListFile main(file, def.main, info, diags);
  if (!main.read(text)) return false;
  ColumnRef id_col = def.id_column;
  ColumnRef name_col = def.name_column;
  ColumnRef kind_col = def.kind_column;
  ColumnRef alias_col = def.alias_column;
  const bool columns_ok = main.each(text, {&id_col, &name_col, &kind_col, &alias_col}, [&](Record& rec) {
    Cell id = main.cell(rec, id_col, def.empty_values);
    Cell name = main.cell(rec, name_col, def.empty_values);
    Cell kind = kind_col.set() ? main.cell(rec, kind_col, def.empty_values) : Cell{};
    Cell aliases = alias_col.set() ? main.cell(rec, alias_col, def.empty_values) : Cell{};
    for (const Cell* c : {&id, &name, &kind, &aliases}) {
      if (!c->problem.empty()) return main.skip(rec.line, c->problem);
    }
    if (id.values.empty()) return main.skip(rec.line, "no id (" + id_col.describe() + ")");
    if (name.values.empty()) return main.skip(rec.line, "no name (" + name_col.describe() + ")");
    Row row{id.values[0], name.values[0], kind.values.empty() ? def.default_kind : kind.values[0],
            split_aliases(aliases.values, def.alias_separator)};
    for (const auto* v : {&row.id, &row.name, &row.kind}) {
      if (!valid_utf8(*v)) return main.skip(rec.line, "not valid UTF-8");
    }
    for (const auto& a : row.aliases) {
      if (!valid_utf8(a)) return main.skip(rec.line, "not valid UTF-8");
    }
    if (auto [it, added] = id_line.emplace(row.id, rec.line); !added) {
      return main.skip(rec.line, "id '" + row.id + "' is repeated (first at line " + std::to_string(it->second) + ")");
    }
    if (!def.kinds.empty() && std::find(def.kinds.begin(), def.kinds.end(), row.kind) == def.kinds.end()) {
      // Left out on purpose: counted, not warned, and so are its aliases.
      ListFile::count(info.skipped_rows, "kind not in 'kinds'");
      left_out.insert(row.id);
      return;
    }
    by_id.emplace(row.id, rows.size());
    rows.push_back(std::move(row));
  });
  main.finish();
  if (!columns_ok) return false;

  if (def.has_alias_file) {
    ListFile aliases(file, def.aliases, info, diags);
    if (!aliases.read(text)) return false;
    ColumnRef a_id = def.alias_id_column;
    ColumnRef a_name = def.alias_name_column;
    const bool ok = aliases.each(text, {&a_id, &a_name}, [&](Record& rec) {
      Cell id = aliases.cell(rec, a_id, def.empty_values);
      Cell name = aliases.cell(rec, a_name, def.empty_values);
      for (const Cell* c : {&id, &name}) {
        if (!c->problem.empty()) return aliases.skip(rec.line, c->problem);
      }
      if (id.values.empty()) return aliases.skip(rec.line, "no id (" + a_id.describe() + ")");
      if (name.values.empty()) return aliases.skip(rec.line, "no alias (" + a_name.describe() + ")");
      auto it = by_id.find(id.values[0]);
      if (it == by_id.end() && left_out.count(id.values[0])) {
        return ListFile::count(info.skipped_rows, "an alias of an entity whose kind is not in 'kinds'");
      }
      if (it == by_id.end()) return aliases.skip(rec.line, "an alias of an id not in the list");
      for (const auto& v : name.values) {
        if (!valid_utf8(v)) return aliases.skip(rec.line, "not valid UTF-8");
      }
      auto& list = rows[it->second].aliases;
      list.insert(list.end(), name.values.begin(), name.values.end());
    });
    aliases.finish();
    if (!ok) return false;
  }

  // Names: reorder, then filter in the name form.
  const Normalizer& norm = Normalizer::instance();
  const NormalizeOptions names_form{true, true, true};
  std::set<std::string> stop;
  for (const auto& s : def.stoplist) stop.insert(norm.normalize(s, names_form));
  std::unordered_map<std::string, size_t> entity_of_id;
  std::vector<std::string> seen;
  for (Row& row : rows) {
    ListedEntity e;
    e.id = row.id;
    e.name = row.name;
    e.kind = row.kind;
    const bool reorder =
        def.last_first && (def.last_first_kinds.empty() || std::find(def.last_first_kinds.begin(),
                                                                     def.last_first_kinds.end(),
                                                                     row.kind) != def.last_first_kinds.end());
    seen.clear();
    size_t aliases = 0;
    size_t reordered = 0;
    // `is_alias`: not the entity's own name; `is_reordering`: a "First LAST" of a "LAST, First".
    auto consider = [&](const std::string& written, const std::string& match_text, bool is_alias, bool is_reordering) {
      const std::string folded = norm.normalize(match_text, names_form);
      if (folded.empty()) return ListFile::count(info.skipped_names, "empty after normalization");
      if (name_length(folded) < def.min_alias_length) {
        return ListFile::count(info.skipped_names,
                               "shorter than min_alias_length = " + std::to_string(def.min_alias_length));
      }
      if (stop.count(folded)) return ListFile::count(info.skipped_names, "in the stoplist");
      if (std::find(seen.begin(), seen.end(), match_text) != seen.end()) {
        return ListFile::count(info.skipped_names, "written twice for one entity");
      }
      seen.push_back(match_text);
      e.names.push_back({written, match_text});
      reordered += is_reordering;
      aliases += is_alias && !is_reordering;
    };
    row.aliases.insert(row.aliases.begin(), row.name);
    for (size_t i = 0; i < row.aliases.size(); ++i) {
      const std::string& written = row.aliases[i];
      consider(written, written, i > 0, false);
      if (reorder) {
        if (std::string r = reorder_last_first(written); !r.empty()) consider(written, r, i > 0, true);
      }
    }
    if (e.names.empty()) {
      ++info.skipped_entities;
      continue;
    }
    info.names += e.names.size();
    info.aliases += aliases;
    info.reordered += reordered;
    entity_of_id.emplace(e.id, out.entities.size());
    out.entities.push_back(std::move(e));
  }
  info.entities = out.entities.size();

  for (const auto& [id, phrases] : def.exclude) {
    auto it = entity_of_id.find(id.value);
    if (it == entity_of_id.end()) {
      file.warning(diags, "unknown-entity", id.place,
                   "'exclude' names entity '" + id.value + "', which list '" + def.id.value + "' does not load");
      continue;
    }
    auto& ex = out.entities[it->second].exclude;
    ex.insert(ex.end(), phrases.begin(), phrases.end());
  }
  info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return true;
}

}  // namespace lodestone::rules
