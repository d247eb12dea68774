// The teams notifier: Adaptive Card bodies and what Workflows' answers mean; the request goes
// through net/http_sender.
#include "notifiers/teams/teams.h"

#include <cmath>
#include <mutex>
#include <optional>

#include <nlohmann/json.hpp>

#include "net/curl_support.h"
#include "net/http_sender.h"
#include "notifiers/chat_format.h"

namespace lodestone {
namespace {

using json = nlohmann::ordered_json;

// What a digest shows of each alert: enough to know it, little enough that several fit.
constexpr size_t kDigestSnippetMax = 200;
constexpr size_t kDigestTitleMax = 200;
// How much of an error's code and message an error quotes.
constexpr size_t kQuotedMax = 300;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// An Adaptive Card's text colour for a severity.
const char* colour(const std::string& severity) {
  if (severity == "high" || severity == "critical") return "Attention";
  if (severity == "medium") return "Warning";
  return "Default";
}

// A TextRun is literal text: Teams reads no Markdown in it, so post text goes in as it is.
json text_run(const std::string& text, bool marked = false) {
  json run = {{"type", "TextRun"}, {"text", text}};
  if (marked) {
    run["highlight"] = true;
    run["weight"] = "Bolder";
  }
  return run;
}

json open_post(const std::string& url) { return {{"type", "Action.OpenUrl"}, {"title", "Open post"}, {"url", url}}; }

// "Entity: Scott Bessent": a label in bold and its value, both literal TextRuns.
json fact(const std::string& label, const std::string& value) {
  json name = text_run(label + ": ");
  name["weight"] = "Bolder";
  return {{"type", "RichTextBlock"}, {"inlines", json::array({name, text_run(value)})}};
}

// The card's elements for one alert: severity and rule, the title, the snippet, the facts. All
// of it is TextRuns, which Teams reads no Markdown in (a TextBlock's text and a FactSet's values
// it does read as Markdown, and whether a backslash escape shows there differs between clients).
json card_elements(const AlertSummary& s) {
  std::string head = s.severity.empty() ? std::string() : upper_ascii(s.severity).append(" · ");
  head.append(s.rule);
  json head_run = text_run(head);
  head_run["weight"] = "Bolder";
  head_run["color"] = colour(s.severity);
  json elements = json::array();
  elements.push_back({{"type", "RichTextBlock"}, {"inlines", json::array({head_run})}});
  elements.push_back({{"type", "RichTextBlock"}, {"inlines", json::array({text_run(s.title)})}});
  if (!s.snippet.empty()) {
    json inlines = json::array();
    for (const auto& piece : s.snippet) inlines.push_back(text_run(piece.text, piece.marked));
    elements.push_back({{"type", "RichTextBlock"}, {"inlines", inlines}});
  }
  json facts = json::array();
  for (const auto& v : s.values) facts.push_back(fact("Value", v));
  if (!s.entity.empty()) facts.push_back(fact("Entity", entity_line(s)));
  facts.push_back(fact("Source", s.source));
  elements.push_back({{"type", "Container"}, {"items", facts}});
  return elements;
}

// {"type":"message","attachments":[{…card with `body` and, when not empty, `actions`…}]}
json message(json body, json actions) {
  json card = {{"$schema", "http://adaptivecards.io/schemas/adaptive-card.json"},
               {"type", "AdaptiveCard"},
               {"version", "1.4"},
               {"body", std::move(body)}};
  if (!actions.empty()) card["actions"] = std::move(actions);
  json attachment = {{"contentType", "application/vnd.microsoft.card.adaptive"}, {"contentUrl", nullptr},
                     {"content", std::move(card)}};
  return {{"type", "message"}, {"attachments", json::array({std::move(attachment)})}};
}

std::string render(const AlertSummary& s) {
  json actions = json::array();
  if (!s.url.empty()) actions.push_back(open_post(s.url));
  return dump(message(card_elements(s), std::move(actions)));
}

// One alert of a digest: its elements in a Container, with its own "Open post".
std::string digest_item(const Alert& alert) {
  const AlertSummary s = shortened(summarize_alert(alert), kDigestSnippetMax, kDigestTitleMax);
  json items = card_elements(s);
  if (!s.url.empty()) items.push_back({{"type", "ActionSet"}, {"actions", json::array({open_post(s.url)})}});
  return dump({{"type", "Container"}, {"separator", true}, {"spacing", "Medium"}, {"items", items}});
}

json text_block(const std::string& text, bool bold) {
  json block = {{"type", "TextBlock"}, {"text", text}, {"wrap", true}};
  if (bold) {
    block["weight"] = "Bolder";
    block["size"] = "Medium";
  } else {
    block["isSubtle"] = true;
  }
  return block;
}

std::string string_at(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string teams_body(const AlertSummary& summary) {
  return fit_message(summary, kTeamsBodyMax, render, [](std::string_view body) { return body.size(); });
}

std::string teams_digest_body(std::span<const Alert> alerts) {
  if (alerts.size() == 1) return teams_body(summarize_alert(alerts.front()));
  // The message around the card's body elements, which fit_digest() lists joined by commas.
  static const std::string kMark = "\"<body>\"";
  const std::string whole = dump(message(json::array({"<body>"}), json::array()));
  const size_t at = whole.find(kMark);
  const std::string before = whole.substr(0, at), after = whole.substr(at + kMark.size());
  std::vector<std::string> items;
  items.reserve(alerts.size());
  for (const Alert& a : alerts) items.push_back(digest_item(a));
  const std::string head = dump(text_block(std::to_string(alerts.size()).append(" alerts"), true));
  const auto more = [](size_t n) { return dump(text_block(std::string("and ").append(std::to_string(n)).append(" more"), false)); };
  const auto measure = [&](std::string_view body) { return before.size() + body.size() + after.size(); };
  return before + fit_digest(head, items, ",", kTeamsBodyMax, more, measure) + after;
}

namespace {

std::string check_options(const TeamsOptions& o) {
  if (o.name.empty()) return "a teams notifier needs a name";
  const std::string who = "teams \"" + o.name + "\": ";
  if (o.url.empty()) return who + "url is required (the workflow's HTTP POST URL)";
  // The URL itself is never quoted: its query holds the workflow's signature.
  std::optional<UrlParts> url = split_url(o.url);
  if (!url) return who + "url is not a valid URL";
  if (url->scheme != "http" && url->scheme != "https") return who + "url must start with https://";
  if (url->host.empty()) return who + "url has no host";
  if (!(o.timeout > 0) || !std::isfinite(o.timeout)) return who + "timeout must be a positive number of seconds";
  if (!(o.digest >= 0) || !std::isfinite(o.digest)) return who + "digest must be 0 or a number of seconds";
  return {};
}

// Workflows' refusal as it says it: {"error":{"code":"InvalidRequestContent","message":"…"}}.
std::string refusal(const HttpSender& http, const HttpAnswer& answer) {
  const json j = json::parse(answer.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    const json& e = j["error"];
    std::string what = string_at(e, "code");
    const std::string text = string_at(e, "message");
    if (!text.empty()) what.append(what.empty() ? "" : ": ").append(text);
    what = cut_code_points(printable_utf8(what), kQuotedMax);
    if (!what.empty()) {
      if (std::optional<std::string> shown = http.redactor().redact(what)) {
        return http.who() + ": HTTP " + std::to_string(answer.status) + " " + *shown;
      }
    }
  }
  return http.status_error(answer);
}

}  // namespace

Result<void> check_teams_options(const TeamsOptions& o) {
  if (std::string why = check_options(o); !why.empty()) return Failure{why};
  return {};
}

struct TeamsNotifier::State {
  TeamsOptions options;
  std::string invalid;  // why the options cannot work; empty when they can
  std::unique_ptr<HttpSender> http;
  std::mutex mutex;
};

TeamsNotifier::TeamsNotifier(TeamsOptions options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = std::move(options);
  s.invalid = check_options(s.options);
  if (!s.invalid.empty()) return;
  const UrlParts url = *split_url(s.options.url);
  // Scheme, host and path: the query, which holds the signature, is never shown.
  std::string who = endpoint_who("teams", s.options.name, url, url.path);
  Redactor redactor;
  redactor.hide_all(url.hidden);
  s.http = std::make_unique<HttpSender>(std::move(who), s.options.timeout, std::move(redactor));
  s.invalid = s.http->invalid();
}

TeamsNotifier::~TeamsNotifier() = default;

const std::string& TeamsNotifier::name() const { return state_->options.name; }

double TeamsNotifier::digest_interval() const { return state_->options.digest; }

void TeamsNotifier::cancel() {
  if (state_->http) state_->http->cancel();
}

DeliveryAttempt TeamsNotifier::send(const Alert& alert, const std::string& alert_json) {
  return send_digest(std::span<const Alert>(&alert, 1), std::span<const std::string>(&alert_json, 1));
}

DeliveryAttempt TeamsNotifier::send_digest(std::span<const Alert> alerts, std::span<const std::string> alert_jsons) {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  auto dead = [](std::string why) { return DeliveryAttempt{DeliveryAttempt::Outcome::kDead, 0, std::move(why), -1}; };
  if (!s.invalid.empty()) return dead(s.invalid);
  if (alerts.empty()) return dead(s.http->who() + ": no alerts to send");
  if (alert_jsons.size() != alerts.size()) return dead(s.http->who() + ": alerts and their JSON do not line up");

  HttpRequest request;
  request.url = s.options.url;
  request.headers = {"Content-Type: application/json"};
  request.body = teams_digest_body(alerts);
  const HttpAnswer answer = s.http->send(request);
  DeliveryAttempt result = s.http->outcome(answer);
  if (answer.transferred && result.outcome != DeliveryAttempt::Outcome::kDelivered) result.error = refusal(*s.http, answer);
  return result;
}

}  // namespace lodestone
