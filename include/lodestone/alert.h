// Alert: one rule matching one post, as `scan` prints it, a webhook receives it and the store keeps it.
// A plain value, safe to copy and move between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lodestone/result.h"

namespace lodestone {

// One reason a rule holds: an occurrence of a term in a field, or a comparison that held.
// A comparison's match has `comparison` set: `field` names the number, `term` is the comparison
// as written ("pushes:>=50"), `value` the post's number, `text` and `snippet` that number written
// out ("51"), and no span (offsets 0). Its JSON has "value" and no offsets.
struct AlertMatch {
  std::string field;   // the post field the occurrence is in
  std::string term;    // the term as written in the rule file ("rare earth*", "稀土", "/re/")
  std::string text;    // the original text of the span, as sent
  uint32_t start = 0;  // Unicode code point offsets into the original field text, [start, end)
  uint32_t end = 0;
  uint32_t byte_start = 0;  // the same span in UTF-8 bytes of the original field text
  uint32_t byte_end = 0;
  std::string snippet;      // the span with kSnippetContext code points around it, "…" where cut
  std::string entity;       // id of the entity this term names, empty when it names none
  std::string entity_list;  // the [[entities]] list of that entity; empty for an [[entity]]
  bool comparison = false;
  double value = 0;  // a comparison's number
};

// A post's number as alerts write it: "51", "-20", "1.5" (shortest form that reads back the same).
void format_number(double value, std::string& out);

struct AlertEntity {
  std::string id;
  std::string name;
  std::string kind;   // as the rule file or list gives it; may be empty
  std::string list;   // the [[entities]] list it came from; empty for an [[entity]]
  std::string alias;  // the name or alias, as written in the rule file or list, that matched first
};

struct AlertRule {
  std::string id;
  std::string title;
  std::string severity;
  std::vector<std::string> tags;
};

struct AlertPost {
  std::string id;
  std::string source;
  std::string title;
  std::string url;
  std::string published;
};

struct Alert {
  std::string id;  // alert_id(rule.id, post.source, post.id)
  AlertRule rule;
  AlertPost post;
  std::vector<AlertMatch> matches;
  std::vector<AlertEntity> entities;
  std::string matched_at;  // RFC 3339 UTC, seconds ("2026-01-11T11:08:03Z")
};

// Code points of the original text a snippet keeps on each side of its span (fewer where the
// field begins or ends), line breaks and tabs flattened to spaces.
constexpr uint32_t kSnippetContext = 30;

// The byte offset of the span in `m.snippet`, from the span's own offsets: a snippet starts with
// "…" exactly when more than kSnippetContext code points precede the span, then holds
// min(start, kSnippetContext) of them. npos when the snippet does not hold `m.text` there (an
// alert edited by hand, or one from another version).
size_t span_in_snippet(const AlertMatch& m);

// The first 32 hex digits of SHA-256 over rule id, source and post id, each followed by a NUL
// byte, so ("ab","c") and ("a","bc") differ. The same (rule, post) always gives the same id.
std::string alert_id(std::string_view rule_id, std::string_view source, std::string_view post_id);
// The same id written into `out`, replacing what it held: reusing one string per alert, as the
// Scanner does, spares an allocation per alert.
void alert_id(std::string_view rule_id, std::string_view source, std::string_view post_id, std::string& out);

// The alert as one line of JSON (docs/design.md, "Alerts"), without a trailing newline.
std::string to_json(const Alert& alert);
// The same JSON appended to `out`: writing every alert into one output buffer allocates nothing
// per alert once the buffer has grown.
void append_json(const Alert& alert, std::string& out);

// The alert back from its JSON (the store keeps JSON; notifiers take an Alert). Fails when `json`
// is not an alert object.
Result<Alert> alert_from_json(std::string_view json);

// One readable line: severity, rule, source and post id, then for each field with matches the
// first match's snippet with the field's matches in it marked: ANSI bold red when `color`,
// otherwise « and ».
std::string to_text(const Alert& alert, bool color);

}  // namespace lodestone
