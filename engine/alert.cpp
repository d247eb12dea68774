// Alerts: their ids, their JSON (the same object everywhere) and a readable line.
#include "lodestone/alert.h"

#include <nlohmann/json.hpp>

#include "engine/hash.h"
#include "rules/sha256.h"

namespace lodestone {

std::string sha256_hex32(std::initializer_list<std::string_view> parts) {
  rules::Sha256 h;
  for (std::string_view part : parts) h.add(part).add(std::string_view("\0", 1));
  return rules::to_hex(rules::as_chars(h.finish()).substr(0, 16));
}

std::string alert_id(std::string_view rule_id, std::string_view source, std::string_view post_id) {
  return sha256_hex32({rule_id, source, post_id});
}

std::string to_json(const Alert& a) {
  nlohmann::ordered_json j;
  j["id"] = a.id;
  j["rule"] = {{"id", a.rule.id}, {"title", a.rule.title}, {"severity", a.rule.severity}, {"tags", a.rule.tags}};
  nlohmann::ordered_json post = {{"id", a.post.id}, {"source", a.post.source}};
  if (!a.post.title.empty()) post["title"] = a.post.title;
  if (!a.post.url.empty()) post["url"] = a.post.url;
  if (!a.post.published.empty()) post["published"] = a.post.published;
  j["post"] = std::move(post);
  auto& matches = j["matches"] = nlohmann::ordered_json::array();
  for (const auto& m : a.matches) {
    nlohmann::ordered_json jm = {{"field", m.field},       {"term", m.term},      {"text", m.text},
                                 {"start", m.start},       {"end", m.end},        {"byte_start", m.byte_start},
                                 {"byte_end", m.byte_end}, {"snippet", m.snippet}};
    if (!m.entity.empty()) jm["entity"] = m.entity;
    if (!m.entity_list.empty()) jm["list"] = m.entity_list;
    matches.push_back(std::move(jm));
  }
  auto& entities = j["entities"] = nlohmann::ordered_json::array();
  for (const auto& e : a.entities) {
    nlohmann::ordered_json je = {{"id", e.id}, {"name", e.name}};
    if (!e.kind.empty()) je["kind"] = e.kind;
    if (!e.list.empty()) je["list"] = e.list;
    je["alias"] = e.alias;
    entities.push_back(std::move(je));
  }
  j["matched_at"] = a.matched_at;
  // Invalid UTF-8 never reaches an alert (readers repair it), but never throw on output either.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::optional<Alert> alert_from_json(std::string_view json, std::string& error) {
  const auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    error = "not a JSON object";
    return std::nullopt;
  }
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
  if (a.id.empty()) {
    error = "no alert id";
    return std::nullopt;
  }
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
      // The JSON does not carry the span's place in the snippet: its first occurrence there is it
      // unless the same text also stands in the context before it.
      const size_t at = match.snippet.find(match.text);
      match.snippet_at = at == std::string::npos ? 0 : static_cast<uint32_t>(at);
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
    const size_t tail = s.size() >= 3 && s.compare(s.size() - 3, 3, "…") == 0 ? s.size() - 3 : s.size();
    std::string marked;
    size_t copied = 0;
    for (; i < a.matches.size() && a.matches[i].field == first.field; ++i) {
      const AlertMatch& m = a.matches[i];
      const size_t at = first.snippet_at + (m.byte_start - first.byte_start);
      const size_t len = m.byte_end - m.byte_start;
      if (at < copied || at + len > tail) continue;  // overlaps a marked span, or lies outside
      marked += s.substr(copied, at - copied) + open + s.substr(at, len) + close;
      copied = at + len;
    }
    out += "  " + first.field + ": " + marked + s.substr(copied);
  }
  return out;
}

}  // namespace lodestone
