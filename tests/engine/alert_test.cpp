// Alerts: ids, offsets into the original text, snippets, entities, and the JSON users receive.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <random>

#include "support/rules.h"

using lodestone::testing::alerts;
using lodestone::testing::post;
using lodestone::testing::rules;

TEST_CASE("the alert id is SHA-256 of rule, source and post id, stable and 32 hex digits", "[alert]") {
  std::string id = lodestone::alert_id("rare-earths", "ptt/Stock", "M.1");
  CHECK(id.size() == 32);
  CHECK(id == lodestone::alert_id("rare-earths", "ptt/Stock", "M.1"));
  CHECK(id != lodestone::alert_id("rare-earths", "ptt/Stoc", "kM.1"));
  // printf 'a\0b\0c\0' | sha256sum
  CHECK(lodestone::alert_id("a", "b", "c") == "13e228567e8249fce53337f25d7970de");
}

TEST_CASE("offsets are code points and bytes of the original field text", "[alert]") {
  auto set = rules("[[rule]]\nid = \"r\"\nmatch = '\"rare earth\" OR 稀土'\n");
  // Full-width text, an ideographic space and a zero-width space between the matched characters.
  const std::string body = "今日ＲＡＲＥ　ＥＡＲＴＨ與稀\u200b土";
  auto got = alerts(set, post({{"body", body}}));
  REQUIRE(got.size() == 1);
  REQUIRE(got[0].matches.size() == 2);
  const auto& m0 = got[0].matches[0];
  CHECK(m0.field == "body");
  CHECK(m0.term == "\"rare earth\"");
  CHECK(m0.text == "ＲＡＲＥ　ＥＡＲＴＨ");
  CHECK(m0.start == 2);
  CHECK(m0.end == 12);
  CHECK(m0.byte_start == 6);
  CHECK(m0.byte_end == 36);
  const auto& m1 = got[0].matches[1];
  CHECK(m1.term == "稀土");
  CHECK(m1.text == "稀\u200b土");
  CHECK(m1.start == 13);
  CHECK(m1.end == 16);
  CHECK(body.substr(m1.byte_start, m1.byte_end - m1.byte_start) == m1.text);
}

TEST_CASE("offsets stay on the original text when invalid UTF-8 was repaired before", "[alert]") {
  auto set = rules("[[rule]]\nid = \"r\"\nmatch = 'gallium'\n");
  auto got = alerts(set, post({{"body", "\xef\xbf\xbd gallium"}}));
  REQUIRE(got.size() == 1);
  CHECK(got[0].matches[0].start == 2);
  CHECK(got[0].matches[0].byte_start == 4);
}

TEST_CASE("a snippet shows the match in its context, cut with an ellipsis", "[alert]") {
  auto set = rules("[[rule]]\nid = \"r\"\nmatch = 'gallium'\n");
  std::string body = std::string(100, 'x') + " gallium\nprices " + std::string(100, 'y');
  auto got = alerts(set, post({{"body", body}}));
  REQUIRE(got.size() == 1);
  const auto& m = got[0].matches[0];
  CHECK(m.snippet.rfind("…", 0) == 0);
  CHECK(m.snippet.find("gallium prices") != std::string::npos);  // line breaks flattened
  CHECK(m.snippet.substr(m.snippet.size() - 3) == "…");
  CHECK(m.snippet.substr(lodestone::span_in_snippet(m), 7) == "gallium");
}

TEST_CASE("an alert names the entity and the alias that matched", "[alert]") {
  auto set = rules(R"([[entity]]
id = "scott-bessent"
name = "Scott Bessent"
kind = "person"
aliases = ["Bessent", "貝森特"]
[[rule]]
id = "r"
match = '@scott-bessent'
)");
  auto got = alerts(set, post({{"body", "美國財政部長貝森特表示"}}));
  REQUIRE(got.size() == 1);
  REQUIRE(got[0].entities.size() == 1);
  CHECK(got[0].entities[0].id == "scott-bessent");
  CHECK(got[0].entities[0].name == "Scott Bessent");
  CHECK(got[0].entities[0].alias == "貝森特");
  CHECK(got[0].matches[0].entity == "scott-bessent");
}

TEST_CASE("terms under NOT are not reported as matches", "[alert]") {
  auto set = rules("[[rule]]\nid = \"r\"\nmatch = 'gallium NOT (germanium NEAR/1 ban)'\n");
  auto got = alerts(set, post({{"body", "gallium and germanium"}}));
  REQUIRE(got.size() == 1);
  REQUIRE(got[0].matches.size() == 1);
  CHECK(got[0].matches[0].term == "gallium");
}

TEST_CASE("the alert JSON has the documented shape", "[alert]") {
  auto set = rules(R"([[rule]]
id = "rare-earth-export-controls"
title = "Rare-earth export controls"
severity = "high"
tags = ["minerals"]
match = '稀土 出口管制'
)");
  lodestone::Post p = post({{"title", "[新聞] 稀土出口管制"},
                            {"body", "中國對稀土出口管制升級"},
                            {"url", "https://www.ptt.cc/x.html"},
                            {"published", "2026-01-11T19:08:00+08:00"}},
                           "M.1768131864.A.9E9", "ptt/Stock");
  lodestone::Scanner scanner(set);
  scanner.set_clock_override("2026-01-11T11:08:03Z");
  auto got = scanner.scan(p);
  REQUIRE(got.size() == 1);
  auto j = nlohmann::json::parse(lodestone::to_json(got[0]));
  CHECK(j["id"] == lodestone::alert_id("rare-earth-export-controls", "ptt/Stock", "M.1768131864.A.9E9"));
  CHECK(j["rule"] == nlohmann::json{{"id", "rare-earth-export-controls"},
                                    {"title", "Rare-earth export controls"},
                                    {"severity", "high"},
                                    {"tags", {"minerals"}}});
  CHECK(j["post"] == nlohmann::json{{"id", "M.1768131864.A.9E9"},
                                    {"source", "ptt/Stock"},
                                    {"title", "[新聞] 稀土出口管制"},
                                    {"url", "https://www.ptt.cc/x.html"},
                                    {"published", "2026-01-11T19:08:00+08:00"}});
  REQUIRE(j["matches"].size() == 4);
  CHECK(j["matches"][0] == nlohmann::json{{"field", "title"},
                                          {"term", "稀土"},
                                          {"text", "稀土"},
                                          {"start", 5},
                                          {"end", 7},
                                          {"byte_start", 9},
                                          {"byte_end", 15},
                                          {"snippet", "[新聞] 稀土出口管制"}});
  CHECK(j["entities"] == nlohmann::json::array());
  CHECK(j["matched_at"] == "2026-01-11T11:08:03Z");
}

TEST_CASE("the text format is one line with every match of a field marked in one snippet", "[alert]") {
  auto set = rules("[[rule]]\nid = \"r\"\nmatch = '稀土 OR 中國 OR 中國商務部 OR title:x'\n");
  auto got = alerts(set, post({{"title", "x y"}, {"body", "中國商務部說\n稀土出口"}}, "p9", "ptt/Stock"));
  REQUIRE(got.size() == 1);
  // 中國 inside 中國商務部 is not marked twice.
  CHECK(lodestone::to_text(got[0], false) == "medium  r  ptt/Stock p9  title: «x» y  body: «中國商務部»說 «稀土»出口");
}

TEST_CASE("the text format marks each match in its snippet", "[alert]") {
  auto set = rules("[[rule]]\nid = \"r\"\nseverity = \"low\"\nmatch = '稀土'\n");
  auto got = alerts(set, post({{"body", "中國稀土出口"}}, "p9", "ptt/Stock"));
  REQUIRE(got.size() == 1);
  CHECK(lodestone::to_text(got[0], false) == "low  r  ptt/Stock p9  body: 中國«稀土»出口");
  CHECK(lodestone::to_text(got[0], true).find("\x1b[1;31m稀土\x1b[0m") != std::string::npos);
}

namespace {

// The alert JSON as nlohmann::ordered_json built and dumped it before to_json() wrote it
// directly: the reference for the bytes.
std::string reference_json(const lodestone::Alert& a) {
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
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

TEST_CASE("the alert JSON is byte for byte what nlohmann's dump of the same object gives", "[alert]") {
  const std::vector<std::string> pool = {"", "a", "Rare \"earth\"", "back\\slash", "tab\there", "line\nbreak",
                                         "\r\b\f", std::string("nul\0byte", 8), "\x01\x1f\x7f", "中國稀土", "é\u0301",
                                         "\U0001F600 emoji", "</script>", "…snippet…", "  spaces  ", "{}[],:"};
  std::mt19937 rng(20261129);
  auto pick = [&] { return pool[std::uniform_int_distribution<size_t>(0, pool.size() - 1)(rng)]; };
  auto some = [&](int most) { return std::uniform_int_distribution<int>(0, most)(rng); };
  for (int round = 0; round < 500; ++round) {
    lodestone::Alert a;
    a.id = pick();
    a.rule = {pick(), pick(), pick(), {}};
    for (int i = some(3); i > 0; --i) a.rule.tags.push_back(pick());
    a.post = {pick(), pick(), pick(), pick(), pick()};
    for (int i = some(4); i > 0; --i) {
      lodestone::AlertMatch m;
      m.field = pick();
      m.term = pick();
      m.text = pick();
      m.start = static_cast<uint32_t>(rng());
      m.end = static_cast<uint32_t>(some(1000));
      m.byte_start = static_cast<uint32_t>(some(1) ? rng() : 0);
      m.byte_end = UINT32_MAX;
      m.snippet = pick();
      m.entity = some(1) ? pick() : "";
      m.entity_list = some(1) ? pick() : "";
      a.matches.push_back(m);
    }
    for (int i = some(2); i > 0; --i) a.entities.push_back({pick(), pick(), pick(), pick(), pick()});
    a.matched_at = pick();
    INFO("round " << round);
    REQUIRE(lodestone::to_json(a) == reference_json(a));
  }
}

TEST_CASE("the alert JSON stays valid when a string holds invalid UTF-8", "[alert]") {
  lodestone::Alert a;
  a.id = "x";
  a.post.title = "bad \xff\xfe bytes";
  const auto j = nlohmann::json::parse(lodestone::to_json(a));
  CHECK(j["post"]["title"] == "bad \uFFFD\uFFFD bytes");
}

TEST_CASE("a JSON string is escaped as nlohmann escapes it, wherever the byte falls", "[alert]") {
  // Each special byte at every place of strings shorter and longer than the 16 bytes to_json
  // checks at once, so both the padded and the overlapping last block see it.
  const std::vector<std::string> specials = {"\"", "\\", "\n", "\t", std::string(1, '\0'), "\x01", "\x1f", "/",
                                             "\x7f", "é", "中", "\U0001F600", "…"};
  for (size_t size = 1; size <= 40; ++size) {
    for (size_t at = 0; at < size; ++at) {
      for (const std::string& special : specials) {
        lodestone::Alert a;
        a.id = std::string(at, 'x') + special + std::string(size - at - 1, 'y');
        INFO("size " << size << ", at " << at << ", byte " << static_cast<int>(special[0]));
        REQUIRE(lodestone::to_json(a) == reference_json(a));
      }
    }
  }
}

TEST_CASE("invalid UTF-8 is replaced as nlohmann's replace handler does, wherever it falls", "[alert]") {
  const std::vector<std::string> bad = {"\xff", "\xc3", "\xe4\xb8", "\xe4\xb8x", "\xc0\xaf", "\xed\xa0\x80",
                                        "\xf4\x90\x80\x80", "\x80\x80", "\xf0\x9f\x98"};
  for (size_t size = 1; size <= 24; ++size) {
    for (size_t at = 0; at < size; ++at) {
      for (const std::string& b : bad) {
        lodestone::Alert a;
        a.id = std::string(at, 'x') + b + std::string(size - at - 1, 'y');
        INFO("size " << size << ", at " << at);
        REQUIRE(lodestone::to_json(a) == reference_json(a));
      }
    }
  }
}

TEST_CASE("append_json adds the alert's JSON after what the buffer holds", "[alert]") {
  auto set = rules("[[rule]]\nid = \"r\"\ntags = [\"a\", \"b\"]\nmatch = 'gallium'\n");
  auto got = alerts(set, post({{"title", "Gallium \"prices\""}, {"body", "gallium and\tgermanium"}}));
  REQUIRE(got.size() == 1);
  std::string out = "before\n";
  lodestone::append_json(got[0], out);
  CHECK(out == "before\n" + lodestone::to_json(got[0]));
}

TEST_CASE("the alert id written in place is the one alert_id returns", "[alert]") {
  std::string id = "a string that held something longer than an id before";
  lodestone::alert_id("a", "b", "c", id);
  CHECK(id == "13e228567e8249fce53337f25d7970de");
  lodestone::alert_id("rare-earths", "ptt/Stock", "M.1", id);
  CHECK(id == lodestone::alert_id("rare-earths", "ptt/Stock", "M.1"));
  // Parts too long to be joined in one buffer are hashed part by part, to the same digest:
  // python3 -c 'import hashlib; print(hashlib.sha256(b"r\0" + b"s" * 300 + b"\0p\0").hexdigest()[:32])'
  lodestone::alert_id("r", std::string(300, 's'), "p", id);
  CHECK(id == "eae1cf295106ef50f3924e740c8d01ef");
}
