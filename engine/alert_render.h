// Alerts rendered for people: the plain text and the HTML the email notifier sends and the
// status page shows, a match's snippet cut around its span, and the summary every chat message
// is rendered from. Pure functions; any thread.
#pragma once

#include <string>
#include <vector>

#include "lodestone/alert.h"

namespace lodestone {

// A match's snippet cut around its span: before, the span, after. Without a span found in the
// snippet, the whole snippet comes back as `before`.
struct SnippetParts {
  std::string before, span, after;
};
SnippetParts split_snippet(const AlertMatch& m);

// Rule, post, URL, source, each match's snippet with the span in [[ ]], entities, the alert id.
std::string alert_text_body(const Alert& alert);

// One alert as an HTML <section>: rule, post (linked), source, each match's snippet with the
// span in <mark>, entities; everything escaped. The email's HTML part is made of these, and the
// watcher's status page shows the same.
std::string alert_html_section(const Alert& alert);

// Why an alert fired, in the pieces every chat message shows (the telegram, line, ntfy, teams and
// matrix notifiers, webhook's slack and discord formats): one function builds it, each notifier
// only renders it in its service's markup. Every string is the alert's text with line breaks,
// tabs and other control characters made spaces; none is escaped for any markup.
struct SnippetPiece {
  std::string text;
  bool marked = false;  // matched text, to be shown marked
};
struct AlertSummary {
  std::string alert_id;
  std::string severity;  // the rule's; may be empty
  std::string rule;      // the rule's title, or its id without one
  std::string title;     // the post's title, or its id without one
  // The post's URL when it is an http:// or https:// URL with no space or control character in
  // it; empty otherwise, so that no message links to a javascript: or data: URL a post sent.
  std::string url;
  std::string source;  // "ptt/Stock"
  std::string field;   // the field the snippet is from; empty when no text matched
  // The first text match's snippet, with every match of that field that lies inside it marked.
  std::vector<SnippetPiece> snippet;
  std::vector<std::string> values;  // comparisons that held, as "pushes 55"
  std::string entity;               // the first entity's name (or id)
  std::string alias;                // the name that matched it, when that is not `entity`
  std::vector<std::string> tags;    // the rule's
};
AlertSummary summarize_alert(const Alert& alert);

// The snippet's text alone, unmarked.
std::string snippet_text(const AlertSummary& summary);

}  // namespace lodestone
