// Alerts rendered for people (see alert_render.h).
#include "engine/alert_render.h"

#include <kainjow/mustache.hpp>

#include <string_view>

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

namespace {

// Control characters (line breaks, tabs, DEL, C1) made spaces: one line for a chat message.
std::string flat(std::string s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      s[i] = ' ';
    } else if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      s.replace(i, 2, " ");  // U+0080..U+009F
    }
  }
  return s;
}

bool is_web_url(const std::string& url) {
  const auto starts = [&url](std::string_view p) {
    if (url.size() <= p.size()) return false;
    for (size_t i = 0; i < p.size(); ++i) {
      char c = url[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != p[i]) return false;
    }
    return true;
  };
  if (!starts("http://") && !starts("https://")) return false;
  for (const char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

// The pieces of the snippet of `first`, marking the matches of [first, end) that lie inside it:
// a snippet is the original bytes, so another match's place in it is an offset from the first's.
std::vector<SnippetPiece> marked_snippet(const std::vector<AlertMatch>& matches, size_t first_index, size_t end) {
  const AlertMatch& first = matches[first_index];
  const std::string& s = first.snippet;
  std::vector<SnippetPiece> pieces;
  const auto add = [&pieces](std::string text, bool marked) {
    if (!text.empty()) pieces.push_back({flat(std::move(text)), marked});
  };
  const size_t first_at = span_in_snippet(first);
  if (first_at == std::string::npos) {
    const SnippetParts p = split_snippet(first);
    add(p.before, false);
    add(p.span, true);
    add(p.after, false);
    return pieces;
  }
  const size_t tail = s.size() >= 3 && s.compare(s.size() - 3, 3, "…") == 0 ? s.size() - 3 : s.size();
  size_t copied = 0;
  for (size_t i = first_index; i < end; ++i) {
    const AlertMatch& m = matches[i];
    if (m.comparison || m.byte_start < first.byte_start) continue;
    const size_t at = first_at + (m.byte_start - first.byte_start);
    const size_t len = m.byte_end - m.byte_start;
    if (at < copied || at + len > tail || len == 0) continue;  // overlaps a marked span, or lies outside
    add(s.substr(copied, at - copied), false);
    add(s.substr(at, len), true);
    copied = at + len;
  }
  add(s.substr(copied), false);
  return pieces;
}

}  // namespace

AlertSummary summarize_alert(const Alert& a) {
  AlertSummary s;
  s.alert_id = a.id;
  s.severity = flat(a.rule.severity);
  s.rule = flat(or_else(a.rule.title, a.rule.id));
  s.title = flat(or_else(a.post.title, a.post.id));
  if (is_web_url(a.post.url)) s.url = a.post.url;
  s.source = flat(a.post.source);
  for (const AlertMatch& m : a.matches) {
    if (!m.comparison) continue;
    std::string value;
    format_number(m.value, value);
    s.values.push_back(flat(m.field + " " + value));
  }
  for (size_t i = 0; i < a.matches.size(); ++i) {
    if (a.matches[i].comparison) continue;
    size_t end = i;
    while (end < a.matches.size() && a.matches[end].field == a.matches[i].field) ++end;
    s.field = flat(a.matches[i].field);
    s.snippet = marked_snippet(a.matches, i, end);
    break;
  }
  if (!a.entities.empty()) {
    const AlertEntity& e = a.entities.front();
    s.entity = flat(or_else(e.name, e.id));
    if (!e.alias.empty() && e.alias != s.entity) s.alias = flat(e.alias);
  }
  for (const auto& tag : a.rule.tags) s.tags.push_back(flat(tag));
  return s;
}

std::string snippet_text(const AlertSummary& summary) {
  std::string out;
  for (const auto& p : summary.snippet) out += p.text;
  return out;
}

}  // namespace lodestone
