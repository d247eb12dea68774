// Alerts: their ids, their JSON (the same object everywhere) and a readable line.
#include "lodestone/alert.h"
#include "lodestone/post.h"

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include <array>
#include <charconv>
#include <cstring>
#include <iterator>

#include "text/normalizer.h"
#include "util/ids.h"

namespace lodestone {

std::string alert_id(std::string_view rule_id, std::string_view source, std::string_view post_id) {
  return sha256_hex32({rule_id, source, post_id});
}

void alert_id(std::string_view rule_id, std::string_view source, std::string_view post_id, std::string& out) {
  sha256_hex32({rule_id, source, post_id}, out);
}

namespace {

// The alert JSON is written directly into the caller's buffer, in the layout
// nlohmann::ordered_json's dump() gave (compact, keys in this order, non-ASCII as is, control
// characters as \u00xx, '/' and DEL as is): building a JSON tree per alert took three quarters of
// `scan`'s time on a rule set that raises many alerts (bench/BENCHMARKS.md, W4).
// tests/engine/alert_test.cpp holds the tree-building version and checks both give the same bytes.

// What a byte becomes inside a JSON string: 0 when it stands for itself, otherwise the character
// after the backslash ('u' for the \u00xx form).
constexpr std::array<char, 256> kEscape = [] {
  std::array<char, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = 'u';
  t['"'] = '"';
  t['\\'] = '\\';
  t['\b'] = 'b';
  t['\f'] = 'f';
  t['\n'] = 'n';
  t['\r'] = 'r';
  t['\t'] = 't';
  return t;
}();

// Sixteen bytes in one vector register (SSE2 on x86-64, NEON on ARM), through the vector
// extensions of GCC and Clang: a few instructions check 16 bytes, where a loop takes a few a byte.
using Bytes16 = unsigned char __attribute__((vector_size(16)));

// Whether `s` holds a byte to escape (below 0x20, '"' or '\\'), and in `high` its bytes OR'ed
// together, whose high bits say whether it is all ASCII. The last 16 bytes overlap the ones
// before them; a shorter string is padded with 'a', which needs no escape.
bool needs_escape(std::string_view s, uint64_t& high) {
  Bytes16 special{};
  Bytes16 seen{};
  auto look = [&](const char* p) {
    Bytes16 v;
    std::memcpy(&v, p, sizeof v);
    seen |= v;
    special |= (v < 0x20) | (v == '"') | (v == '\\');
  };
  if (s.size() < sizeof(Bytes16)) {
    char padded[sizeof(Bytes16)];
    std::memset(padded, 'a', sizeof padded);
    if (!s.empty()) std::memcpy(padded, s.data(), s.size());
    look(padded);
  } else {
    for (size_t i = 0; i + sizeof(Bytes16) < s.size(); i += sizeof(Bytes16)) look(s.data() + i);
    look(s.data() + s.size() - sizeof(Bytes16));
  }
  uint64_t seen_halves[2];
  uint64_t special_halves[2];
  std::memcpy(seen_halves, &seen, sizeof seen);
  std::memcpy(special_halves, &special, sizeof special);
  high = seen_halves[0] | seen_halves[1];
  return (special_halves[0] | special_halves[1]) != 0;
}

// Appends `s` escaped, without quotes; returns whether it holds a byte outside ASCII, the only
// case where it may be invalid UTF-8. Most alert text has nothing to escape and is copied at
// once after needs_escape().
bool json_escape(std::string& out, std::string_view s) {
  uint64_t high = 0;
  if (!needs_escape(s, high)) {
    out.append(s);
    return (high & 0x8080808080808080) != 0;
  }
  size_t run = 0;  // the first byte not yet copied
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const char escape = kEscape[c];
    if (escape == 0) continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    const char pair[2] = {'\\', escape};
    out.append(pair, 2);
    if (escape == 'u') {
      static constexpr char kHex[] = "0123456789abcdef";
      const char code[4] = {'0', '0', kHex[c >> 4], kHex[c & 15]};
      out.append(code, 4);
    }
  }
  out.append(s.data() + run, s.size() - run);
  return (high & 0x8080808080808080) != 0;
}

// Appends `prefix` (this file's own punctuation and key, nothing to escape), then `value` as a
// JSON string. Invalid UTF-8 (never expected: readers repair their input) is written with each
// bad sequence replaced by U+FFFD, as nlohmann's error_handler_t::replace did.
void json_field(std::string& out, std::string_view prefix, std::string_view value) {
  out.append(prefix);
  out += '"';
  const size_t value_at = out.size();
  if (json_escape(out, value) && !simdjson::validate_utf8(value.data(), value.size())) {
    out.resize(value_at);
    std::string repaired;
    repair_utf8(value, repaired);
    json_escape(out, repaired);
  }
  out += '"';
}

void json_field(std::string& out, std::string_view prefix, uint32_t value) {
  out.append(prefix);
  char digits[10];
  const auto written = std::to_chars(std::begin(digits), std::end(digits), value);
  out.append(digits, written.ptr);
}

}  // namespace

void append_json(const Alert& a, std::string& out) {
  json_field(out, "{\"id\":", a.id);
  json_field(out, ",\"rule\":{\"id\":", a.rule.id);
  json_field(out, ",\"title\":", a.rule.title);
  json_field(out, ",\"severity\":", a.rule.severity);
  out += ",\"tags\":[";
  for (size_t i = 0; i < a.rule.tags.size(); ++i) json_field(out, i == 0 ? "" : ",", a.rule.tags[i]);
  json_field(out, "]},\"post\":{\"id\":", a.post.id);
  json_field(out, ",\"source\":", a.post.source);
  if (!a.post.title.empty()) json_field(out, ",\"title\":", a.post.title);
  if (!a.post.url.empty()) json_field(out, ",\"url\":", a.post.url);
  if (!a.post.published.empty()) json_field(out, ",\"published\":", a.post.published);
  out += "},\"matches\":[";
  for (size_t i = 0; i < a.matches.size(); ++i) {
    const AlertMatch& m = a.matches[i];
    json_field(out, i == 0 ? "{\"field\":" : ",{\"field\":", m.field);
    json_field(out, ",\"term\":", m.term);
    json_field(out, ",\"text\":", m.text);
    if (m.comparison) {
      out += ",\"value\":";
      out += m.text;  // the number written out: valid JSON (format_number)
      json_field(out, ",\"snippet\":", m.snippet);
      out += '}';
      continue;
    }
    json_field(out, ",\"start\":", m.start);
    json_field(out, ",\"end\":", m.end);
    json_field(out, ",\"byte_start\":", m.byte_start);
    json_field(out, ",\"byte_end\":", m.byte_end);
    json_field(out, ",\"snippet\":", m.snippet);
    if (!m.entity.empty()) json_field(out, ",\"entity\":", m.entity);
    if (!m.entity_list.empty()) json_field(out, ",\"list\":", m.entity_list);
    out += '}';
  }
  out += "],\"entities\":[";
  for (size_t i = 0; i < a.entities.size(); ++i) {
    const AlertEntity& e = a.entities[i];
    json_field(out, i == 0 ? "{\"id\":" : ",{\"id\":", e.id);
    json_field(out, ",\"name\":", e.name);
    if (!e.kind.empty()) json_field(out, ",\"kind\":", e.kind);
    if (!e.list.empty()) json_field(out, ",\"list\":", e.list);
    json_field(out, ",\"alias\":", e.alias);
    out += '}';
  }
  json_field(out, "],\"matched_at\":", a.matched_at);
  out += '}';
}

std::string to_json(const Alert& a) {
  std::string out;
  size_t size = 512 + a.post.title.size();
  for (const auto& m : a.matches) size += 160 + m.snippet.size() + m.text.size() + m.term.size();
  out.reserve(size);
  append_json(a, out);
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
      if (auto value = m.find("value"); value != m.end() && value->is_number()) {
        match.comparison = true;
        match.value = value->get<double>();
      }
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

void format_number(double value, std::string& out) {
  out.clear();
  if (auto whole = whole_number(value)) {
    out = std::to_string(*whole);
    return;
  }
  char digits[32];
  const auto written = std::to_chars(std::begin(digits), std::end(digits), value);
  out.assign(digits, written.ptr);
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
