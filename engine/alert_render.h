// Alerts rendered for people: the plain text and the HTML the email notifier sends and the
// status page shows, and a match's snippet cut around its span. Pure functions; any thread.
#pragma once

#include <string>

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

}  // namespace lodestone
