// Test support: the one sample Alert the notifier, store and dispatcher tests send, keep and parse.
// Plain values, made fresh on each call: safe from any thread.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "lodestone/alert.h"

namespace lodestone::testing {

// Rule `rule_id` ("Rare \"earth\" export controls", high, tagged minerals) on post `post_id` of
// ptt/Stock, with one match of 稀土 in its body and one entity. The title holds a quote, markup
// and "&", and the URL a query, for every format to escape. Its id is alert_id() of the three.
inline Alert sample_alert(const std::string& post_id = "M.1",
                          const std::string& rule_id = "rare-earth-export-controls") {
  Alert a;
  a.rule.id = rule_id;
  a.rule.title = "Rare \"earth\" export controls";
  a.rule.severity = "high";
  a.rule.tags = {"minerals"};
  a.post.id = post_id;
  a.post.source = "ptt/Stock";
  a.post.title = "中國對稀土出口管制 <@everyone> & more";
  a.post.url = "https://example.com/p/1?x=1&y=2";
  a.post.published = "2026-01-11T11:00:00Z";
  a.id = alert_id(a.rule.id, a.post.source, a.post.id);
  AlertMatch m;
  m.field = "body";
  m.term = "稀土";
  m.text = "稀土";
  m.start = 3;
  m.end = 5;
  m.byte_start = 9;
  m.byte_end = 15;
  m.snippet = "…中國對稀土出口…";
  a.matches.push_back(m);
  a.entities.push_back({"scott-bessent", "Scott Bessent", "person", "", "貝森特"});
  a.matched_at = "2026-01-11T11:08:03Z";
  return a;
}

// An alert whose post is out to make trouble in every chat service: HTML, mentions (@everyone,
// <!channel>, @room), Markdown and Slack links, a javascript: URL, a 10 KB title, CJK. Its match
// is in the body: the snippet "[x](https://evil.example) <b>稀土</b> @everyone" with 稀土 marked.
inline Alert hostile_alert() {
  Alert a = sample_alert("M.666", "rare-earths");
  a.rule.title = "Rare earths <b>bold</b>";
  a.post.title = "<a href=\"https://evil.example\">@everyone</a> <!channel> @room [win](https://evil.example) *bold* `code` ";
  while (a.post.title.size() < 10 * 1024) a.post.title += "稀土出口管制 ";
  a.post.url = "javascript:alert(1)";
  AlertMatch& m = a.matches.front();
  m.snippet = "[x](https://evil.example) <b>稀土</b> @everyone";
  m.start = 29;  // "[x](https://evil.example) <b>" is 29 code points, ASCII: 29 bytes
  m.end = 31;
  m.byte_start = 29;
  m.byte_end = 35;
  a.entities.front().alias = "<i>Bessent</i> @here";
  return a;
}

}  // namespace lodestone::testing
