// Alerts: their ids, their JSON (the same object everywhere) and a readable line.
#include "lodestone/alert.h"

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "text/normalizer.h"
#include "util/ids.h"

namespace lodestone {

std::string alert_id(std::string_view rule_id, std::string_view source, std::string_view post_id) {
  return sha256_hex32({rule_id, source, post_id});
}

namespace {

// The alert JSON is written directly, field by field, in the layout nlohmann::ordered_json's
// dump() gave (compact, keys in this order, non-ASCII as is, control characters as \u00xx):
// building a JSON tree per alert took three quarters of `scan`'s time on a rule set that raises
// many alerts (bench/BENCHMARKS.md, W4). tests/engine/alert_test.cpp holds the tree-building
// version and checks both give the same bytes.
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}
  JsonWriter& open(char brace) {
    comma();
    out_ += brace;
    first_ = true;
    return *this;
  }
  JsonWriter& close(char brace) {
    out_ += brace;
    first_ = false;
    return *this;
  }
  // `k` is one of this file's own keys: plain ASCII, nothing to escape.
  JsonWriter& key(std::string_view k) {
    comma();
    out_ += '"';
    out_ += k;
    out_ += "\":";
    first_ = true;  // the value takes no comma
    return *this;
  }
  JsonWriter& string(std::string_view s) {
    comma();
    put(s);
    return *this;
  }
  JsonWriter& number(uint32_t n) {
    comma();
    out_ += std::to_string(n);
    return *this;
  }
  JsonWriter& field(std::string_view k, std::string_view v) { return key(k).string(v); }
  JsonWriter& field(std::string_view k, uint32_t v) { return key(k).number(v); }

 private:
  // Every value but the first of an object or array, and every key but the first, follows a comma.
  void comma() {
    if (!first_) out_ += ',';
    first_ = false;
  }
  void put(std::string_view s) {
    if (!simdjson::validate_utf8(s.data(), s.size())) {  // never expected: readers repair input
      repair_utf8(s, repaired_);
      s = repaired_;
    }
    out_ += '"';
    size_t run = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      out_.append(s.data() + run, i - run);
      run = i + 1;
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\b': out_ += "\\b"; break;
        case '\f': out_ += "\\f"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default: {
          static constexpr char kHex[] = "0123456789abcdef";
          out_ += "\\u00";
          out_ += kHex[c >> 4];
          out_ += kHex[c & 15];
        }
      }
    }
    out_.append(s.data() + run, s.size() - run);
    out_ += '"';
  }
  std::string& out_;
  bool first_ = true;
  std::string repaired_;
};

}  // namespace

std::string to_json(const Alert& a) {
  std::string out;
  size_t size = 512 + a.post.title.size();
  for (const auto& m : a.matches) size += 160 + m.snippet.size() + m.text.size() + m.term.size();
  out.reserve(size);
  JsonWriter w(out);
  w.open('{').field("id", a.id);
  w.key("rule").open('{').field("id", a.rule.id).field("title", a.rule.title).field("severity", a.rule.severity);
  w.key("tags").open('[');
  for (const auto& t : a.rule.tags) w.string(t);
  w.close(']').close('}');
  w.key("post").open('{').field("id", a.post.id).field("source", a.post.source);
  if (!a.post.title.empty()) w.field("title", a.post.title);
  if (!a.post.url.empty()) w.field("url", a.post.url);
  if (!a.post.published.empty()) w.field("published", a.post.published);
  w.close('}');
  w.key("matches").open('[');
  for (const auto& m : a.matches) {
    w.open('{').field("field", m.field).field("term", m.term).field("text", m.text).field("start", m.start);
    w.field("end", m.end).field("byte_start", m.byte_start).field("byte_end", m.byte_end).field("snippet", m.snippet);
    if (!m.entity.empty()) w.field("entity", m.entity);
    if (!m.entity_list.empty()) w.field("list", m.entity_list);
    w.close('}');
  }
  w.close(']');
  w.key("entities").open('[');
  for (const auto& e : a.entities) {
    w.open('{').field("id", e.id).field("name", e.name);
    if (!e.kind.empty()) w.field("kind", e.kind);
    if (!e.list.empty()) w.field("list", e.list);
    w.field("alias", e.alias).close('}');
  }
  w.close(']');
  w.field("matched_at", a.matched_at).close('}');
  return out;
}

Result<Alert> alert_from_json(std::string_view json) {
  const auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Failure{"not a JSON object"};
  auto text = [](const nlohmann::json& o, const char* key) {
    auto it = o.find(key);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto number = [](const nlohmann::json& o, const char* key) {
    auto it = o.find(key);
    return it != o.end() && it->is_number_unsigned() ? it->get<uint32_t>() : uint32_t{0};
  };
  static const nlohmann::json kEmpty = nlohmann::json::object();
  auto object = [&](const char* key) -> const nlohmann::json& {
    auto it = j.find(key);
    return it != j.end() && it->is_object() ? *it : kEmpty;
  };
  Alert a;
  a.id = text(j, "id");
  if (a.id.empty()) return Failure{"no alert id"};
  const auto& rule = object("rule");
  a.rule = {text(rule, "id"), text(rule, "title"), text(rule, "severity"), {}};
  if (auto it = rule.find("tags"); it != rule.end() && it->is_array()) {
    for (const auto& t : *it) {
      if (t.is_string()) a.rule.tags.push_back(t.get<std::string>());
    }
  }
  const auto& post = object("post");
  a.post = {text(post, "id"), text(post, "source"), text(post, "title"), text(post, "url"), text(post, "published")};
  if (auto it = j.find("matches"); it != j.end() && it->is_array()) {
    for (const auto& m : *it) {
      if (!m.is_object()) continue;
      AlertMatch match;
      match.field = text(m, "field");
      match.term = text(m, "term");
      match.text = text(m, "text");
      match.start = number(m, "start");
      match.end = number(m, "end");
      match.byte_start = number(m, "byte_start");
      match.byte_end = number(m, "byte_end");
      match.snippet = text(m, "snippet");
      match.entity = text(m, "entity");
      match.entity_list = text(m, "list");
      a.matches.push_back(std::move(match));
    }
  }
  if (auto it = j.find("entities"); it != j.end() && it->is_array()) {
    for (const auto& e : *it) {
      if (e.is_object()) {
        a.entities.push_back({text(e, "id"), text(e, "name"), text(e, "kind"), text(e, "list"), text(e, "alias")});
      }
    }
  }
  a.matched_at = text(j, "matched_at");
  return a;
}

size_t span_in_snippet(const AlertMatch& m) {
  const std::string& s = m.snippet;
  size_t at = m.start > kSnippetContext && s.starts_with("…") ? std::string_view("…").size() : 0;
  for (uint32_t chars = std::min(m.start, kSnippetContext); chars > 0 && at < s.size(); --chars) {
    ++at;
    while (at < s.size() && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80) ++at;
  }
  // Line breaks in the span are flattened in the snippet, byte for byte.
  if (at + m.text.size() > s.size()) return std::string::npos;
  for (size_t i = 0; i < m.text.size(); ++i) {
    const char c = m.text[i];
    if (s[at + i] != ((c == '\n' || c == '\r' || c == '\t') ? ' ' : c)) return std::string::npos;
  }
  return at;
}

std::string to_text(const Alert& a, bool color) {
  const char* open = color ? "\x1b[1;31m" : "«";
  const char* close = color ? "\x1b[0m" : "»";
  std::string out =
      a.rule.severity + "  " + a.rule.id + "  " + a.post.source + (a.post.source.empty() ? "" : " ") + a.post.id;
  // One snippet per field, the first match's, with every match of that field that falls inside
  // it marked. A snippet is the original bytes (line breaks flattened byte for byte), so another
  // match's place in it is an offset from the first match's.
  for (size_t i = 0; i < a.matches.size();) {
    const AlertMatch& first = a.matches[i];
    const std::string& s = first.snippet;
    const size_t first_at = span_in_snippet(first);
    const size_t tail = s.size() >= 3 && s.compare(s.size() - 3, 3, "…") == 0 ? s.size() - 3 : s.size();
    std::string marked;
    size_t copied = 0;
    for (; i < a.matches.size() && a.matches[i].field == first.field; ++i) {
      const AlertMatch& m = a.matches[i];
      const size_t at = first_at + (m.byte_start - first.byte_start);
      const size_t len = m.byte_end - m.byte_start;
      if (first_at == std::string::npos || at < copied || at + len > tail) continue;  // overlaps a marked span, or lies outside
      marked += s.substr(copied, at - copied) + open + s.substr(at, len) + close;
      copied = at + len;
    }
    out += "  " + first.field + ": " + marked + s.substr(copied);
  }
  return out;
}

}  // namespace lodestone
