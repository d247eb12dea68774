// The status page's HTML.
#include "watch/status_page.h"

#include <kainjow/mustache.hpp>

#include <map>

#include "engine/alert_render.h"

namespace lodestone {
namespace {

constexpr int64_t kHourMs = 3600 * 1000;

// The escaping the email notifier's HTML uses too (mustache's).
std::string escape(const std::string& s) { return kainjow::mustache::html_escape<std::string>(s); }

}  // namespace

std::string render_status_page(const StatusPage& p) {
  std::string h =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"refresh\" content=\"10\"><title>Lodestone</title>\n"
      "<style>body{font-family:sans-serif;margin:1.5em;max-width:70em}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}td:first-child,th:first-child{text-align:left}"
      "mark{background:#ffe066}.bad{color:#b00}section{border-top:1px solid #ddd;margin-top:1em}</style>"
      "</head><body>\n<h1>Lodestone</h1>\n";
  h += "<p>Running since " + escape(p.started_at) + " · " + std::to_string(p.rules) + " rules · queue " +
       std::to_string(p.queue_depth) + " posts";
  if (!p.last_reload_ok) h += " · <span class=\"bad\">last reload failed: " + escape(p.last_reload_error) + "</span>";
  h += "</p>\n";

  h += "<h2>Sources</h2>\n<table><tr><th>source</th><th>state</th></tr>\n";
  for (const auto& [name, state] : p.sources) {
    const bool ok = state == "running" || state == "finished";
    h += "<tr><td>" + escape(name) + "</td><td" + (ok ? "" : " class=\"bad\"") + ">" + escape(state) + "</td></tr>\n";
  }
  h += "</table>\n";

  static const char* kStates[] = {"pending", "delivered", "dead", "held"};
  h += "<h2>Notifiers</h2>\n<table><tr><th>notifier</th>";
  for (const char* s : kStates) h += std::string("<th>") + s + "</th>";
  h += "</tr>\n";
  for (const auto& name : p.notifiers) {
    h += "<tr><td>" + escape(name) + "</td>";
    for (const char* s : kStates) {
      uint64_t n = 0;
      for (const auto& [notifier, state, count] : p.deliveries) {
        if (notifier == name && state == s) n = count;
      }
      h += "<td" + std::string(std::string(s) == "dead" && n > 0 ? " class=\"bad\"" : "") + ">" + std::to_string(n) +
           "</td>";
    }
    h += "</tr>\n";
  }
  h += "</table>\n";

  // Alerts per rule, one column an hour, the current hour last.
  const int64_t this_hour = p.now_ms - p.now_ms % kHourMs;
  std::map<std::string, std::map<int64_t, uint64_t>> by_rule;
  for (const auto& c : p.counts) by_rule[c.rule_id][c.hour_ms] += c.count;
  h += "<h2>Alerts per rule, last 24 hours</h2>\n";
  if (by_rule.empty()) {
    h += "<p>None yet.</p>\n";
  } else {
    h += "<table><tr><th>rule</th>";
    for (int i = 23; i >= 0; --i) h += "<th>" + std::string(i == 0 ? "now" : "-" + std::to_string(i) + "h") + "</th>";
    h += "<th>total</th></tr>\n";
    for (const auto& [rule, hours] : by_rule) {
      h += "<tr><td>" + escape(rule) + "</td>";
      uint64_t total = 0;
      for (int i = 23; i >= 0; --i) {
        auto it = hours.find(this_hour - i * kHourMs);
        const uint64_t n = it == hours.end() ? 0 : it->second;
        total += n;
        h += "<td>" + (n ? std::to_string(n) : std::string()) + "</td>";
      }
      h += "<td>" + std::to_string(total) + "</td></tr>\n";
    }
    h += "</table>\n";
  }

  h += "<h2>Recent alerts</h2>\n";
  if (p.recent.empty()) h += "<p>None yet.</p>\n";
  for (const Alert& a : p.recent) h += alert_html_section(a);
  h += "</body></html>\n";
  return h;
}

}  // namespace lodestone
