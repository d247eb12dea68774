// Alerts rendered for people (see alert_render.h).
#include "engine/alert_render.h"

#include <kainjow/mustache.hpp>

namespace lodestone {
namespace {

std::string html(const std::string& s) { return kainjow::mustache::html_escape<std::string>(s); }

std::string or_else(const std::string& a, const std::string& b) { return a.empty() ? b : a; }

}  // namespace

SnippetParts split_snippet(const AlertMatch& m) {
  if (m.snippet.empty()) return {"", m.text, ""};
  size_t at = m.text.empty() ? std::string::npos : span_in_snippet(m);
  // A snippet that is not as the scanner writes it: its first occurrence is the best guess.
  if (at == std::string::npos && !m.text.empty()) at = m.snippet.find(m.text);
  if (at == std::string::npos) return {m.snippet, "", ""};
  return {m.snippet.substr(0, at), m.text, m.snippet.substr(at + m.text.size())};
}

std::string alert_text_body(const Alert& a) {
  std::string t;
  t += "Rule: " + or_else(a.rule.title, a.rule.id) + " (" + a.rule.id + "), severity " + a.rule.severity + "\n";
  t += "Post: " + or_else(a.post.title, a.post.id) + "\n";
  if (!a.post.url.empty()) t += "URL: " + a.post.url + "\n";
  t += "Source: " + a.post.source + "\n";
  if (!a.post.published.empty()) t += "Published: " + a.post.published + "\n";
  if (!a.matches.empty()) t += "\nMatches:\n";
  for (const AlertMatch& m : a.matches) {
    const SnippetParts p = split_snippet(m);
    t += "  " + m.field + ": " + p.before + (p.span.empty() ? "" : "[[" + p.span + "]]") + p.after + "\n";
  }
  if (!a.entities.empty()) t += "\nEntities:\n";
  for (const AlertEntity& e : a.entities) {
    t += "  " + or_else(e.name, e.id) + (e.kind.empty() ? "" : " (" + e.kind + ")");
    if (!e.alias.empty() && e.alias != e.name) t += ", matched as " + e.alias;
    t += "\n";
  }
  t += "\nAlert " + a.id + (a.matched_at.empty() ? "" : " at " + a.matched_at) + "\n";
  return t;
}

std::string alert_html_section(const Alert& a) {
  std::string h = "<section>\n";
  h += "<h2>" + html(or_else(a.rule.title, a.rule.id)) + " <small>(" + html(a.rule.severity) + ")</small></h2>\n";
  const std::string title = html(or_else(a.post.title, a.post.id));
  h += a.post.url.empty() ? "<p><b>" + title + "</b></p>\n"
                          : "<p><b><a href=\"" + html(a.post.url) + "\">" + title + "</a></b></p>\n";
  h += "<p>Source: " + html(a.post.source);
  if (!a.post.published.empty()) h += " · Published: " + html(a.post.published);
  h += "</p>\n";
  if (!a.matches.empty()) {
    h += "<ul>\n";
    for (const AlertMatch& m : a.matches) {
      const SnippetParts p = split_snippet(m);
      h += "<li><i>" + html(m.field) + "</i>: " + html(p.before) +
           (p.span.empty() ? "" : "<mark>" + html(p.span) + "</mark>") + html(p.after) + "</li>\n";
    }
    h += "</ul>\n";
  }
  if (!a.entities.empty()) {
    h += "<p>Entities:</p>\n<ul>\n";
    for (const AlertEntity& e : a.entities) {
      h += "<li>" + html(or_else(e.name, e.id)) + (e.kind.empty() ? "" : " (" + html(e.kind) + ")");
      if (!e.alias.empty() && e.alias != e.name) h += ", matched as " + html(e.alias);
      h += "</li>\n";
    }
    h += "</ul>\n";
  }
  h += "<p><small>Alert " + html(a.id) + (a.matched_at.empty() ? "" : " at " + html(a.matched_at)) +
       "</small></p>\n</section>\n";
  return h;
}

}  // namespace lodestone
