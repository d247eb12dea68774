// The telegram notifier: the HTML text of an alert, the sendMessage request, and what the Bot
// API's answers mean; the request goes through net/http_sender.
#include "notifiers/telegram/telegram.h"

#include <cmath>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/curl_support.h"
#include "net/http_sender.h"
#include "notifiers/chat_format.h"

namespace lodestone {
namespace {

using json = nlohmann::ordered_json;

// How much of its limit one alert of a digest may take, so that several are shown.
constexpr size_t kDigestItemMax = 1000;
constexpr size_t kDigestTitleMax = 200;
// A post's title longer than this is cut before anything else, so that the snippet keeps room.
constexpr size_t kTitleMax = 1024;
// How much of the API's description an error quotes.
constexpr size_t kQuotedMax = 200;

std::string render(const AlertSummary& s) {
  std::string t;
  if (!s.severity.empty()) t.append("<b>").append(html_escape(upper_ascii(s.severity))).append("</b> · ");
  t.append("<b>").append(html_escape(s.rule)).append("</b>\n");
  if (s.url.empty()) {
    t.append(html_escape(s.title));
  } else {
    t.append("<a href=\"").append(html_escape(s.url)).append("\">").append(html_escape(s.title)).append("</a>");
  }
  if (!s.snippet.empty()) {
    t.append("\n<blockquote>");
    for (const auto& p : s.snippet) {
      if (p.marked) {
        t.append("<b>").append(html_escape(p.text)).append("</b>");
      } else {
        t.append(html_escape(p.text));
      }
    }
    t.append("</blockquote>");
  }
  if (!s.values.empty()) {
    t += '\n';
    for (size_t i = 0; i < s.values.size(); ++i) t.append(i ? " · " : "").append(html_escape(s.values[i]));
  }
  if (!s.entity.empty()) t.append("\nEntity: ").append(html_escape(entity_line(s)));
  t.append("\nSource: ").append(html_escape(s.source));
  return t;
}

size_t visible(std::string_view html) { return telegram_visible_length(html); }

bool is_token(std::string_view token) {
  if (token.empty()) return false;
  for (const char c : token) {
    const bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == ':';
    if (!ok) return false;
  }
  return true;
}

// A chat's number, negative for groups and channels, or "@" and a public username.
bool is_chat_id(std::string_view id) {
  if (id.empty()) return false;
  if (id.front() == '@') {
    if (id.size() < 2) return false;
    for (const char c : id.substr(1)) {
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return true;
  }
  if (id.front() == '-') id.remove_prefix(1);
  if (id.empty() || id.size() > 20) return false;
  for (const char c : id) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::string check_options(const TelegramOptions& o) {
  if (o.name.empty()) return "a telegram notifier needs a name";
  const std::string who = "telegram \"" + o.name + "\": ";
  if (o.bot_token.empty()) return who + "bot_token is required";
  if (!is_token(o.bot_token)) {
    return who +
           "bot_token must be the token @BotFather gave (digits, \":\", letters, \"_\" and \"-\"), "
           "without spaces or slashes";
  }
  if (o.chat_id.empty()) return who + "chat_id is required";
  if (!is_chat_id(o.chat_id)) return who + "chat_id must be a chat's number (-1001234567890) or \"@channelname\"";
  if (!(o.timeout > 0) || !std::isfinite(o.timeout)) return who + "timeout must be a positive number of seconds";
  if (!(o.digest >= 0) || !std::isfinite(o.digest)) return who + "digest must be 0 or a number of seconds";
  std::optional<UrlParts> url = split_url(o.base_url);
  if (!url) return who + "base_url is not a valid URL";
  if (url->scheme != "http" && url->scheme != "https") return who + "base_url must start with http:// or https://";
  if (url->host.empty()) return who + "base_url has no host";
  if (!url->hidden.empty() || !url->user.empty()) return who + "base_url must have no credentials and no query";
  return {};
}

std::string without_trailing_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

size_t telegram_visible_length(std::string_view html) {
  std::string text;
  text.reserve(html.size());
  for (size_t i = 0; i < html.size(); ++i) {
    const char c = html[i];
    if (c == '<') {
      const size_t end = html.find('>', i);
      if (end == std::string_view::npos) break;
      i = end;
    } else if (c == '&') {
      const size_t end = html.find(';', i);
      // Every entity this notifier writes (&lt; &gt; &amp; &quot;) is one character.
      if (end != std::string_view::npos && end - i <= 8) {
        text += '?';
        i = end;
      } else {
        text += c;
      }
    } else {
      text += c;
    }
  }
  return utf16_units(text);
}

std::string telegram_text(const AlertSummary& summary) {
  return fit_message(shortened(summary, SIZE_MAX, kTitleMax), kTelegramTextMax, render, visible);
}

std::string telegram_digest_text(std::span<const Alert> alerts) {
  if (alerts.size() == 1) return telegram_text(summarize_alert(alerts.front()));
  std::vector<std::string> items;
  items.reserve(alerts.size());
  for (const Alert& a : alerts)
    items.push_back(
        fit_message(shortened(summarize_alert(a), SIZE_MAX, kDigestTitleMax), kDigestItemMax, render, visible));
  const std::string head = "<b>Lodestone</b> · " + std::to_string(alerts.size()) + " alerts";
  return fit_digest(
      head, items, "\n\n", kTelegramTextMax, [](size_t n) { return "<i>and " + std::to_string(n) + " more</i>"; },
      visible);
}

Result<void> check_telegram_options(const TelegramOptions& o) {
  if (std::string why = check_options(o); !why.empty()) return Failure{why};
  return {};
}

struct TelegramNotifier::State {
  TelegramOptions options;
  std::string invalid;   // why the options cannot work; empty when they can
  std::string endpoint;  // …/bot<token>/sendMessage
  std::unique_ptr<HttpSender> http;
  std::mutex mutex;

  DeliveryAttempt deliver(const std::string& text);
  DeliveryAttempt outcome(const HttpAnswer& answer) const;
};

TelegramNotifier::TelegramNotifier(TelegramOptions options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = std::move(options);
  const TelegramOptions& o = s.options;
  s.invalid = check_options(o);
  if (!s.invalid.empty()) return;
  const std::string base = without_trailing_slash(o.base_url);
  s.endpoint = std::string(base).append("/bot").append(o.bot_token).append("/sendMessage");
  const UrlParts url = *split_url(base);
  // The token is in the path: `who` stops at "/bot…".
  std::string who = endpoint_who("telegram", o.name, url, without_trailing_slash(url.path), "/bot…");
  Redactor redactor;
  redactor.hide(o.bot_token);
  // The part after the bot's number is what makes the token a secret.
  if (const size_t colon = o.bot_token.find(':'); colon != std::string::npos && o.bot_token.size() - colon > 4) {
    redactor.hide(o.bot_token.substr(colon + 1));
  }
  s.http = std::make_unique<HttpSender>(std::move(who), o.timeout, std::move(redactor));
  s.invalid = s.http->invalid();
}

TelegramNotifier::~TelegramNotifier() = default;

const std::string& TelegramNotifier::name() const { return state_->options.name; }

double TelegramNotifier::digest_interval() const { return state_->options.digest; }

void TelegramNotifier::cancel() {
  if (state_->http) state_->http->cancel();
}

DeliveryAttempt TelegramNotifier::State::outcome(const HttpAnswer& answer) const {
  DeliveryAttempt result = http->outcome(answer);
  if (!answer.transferred || result.outcome == DeliveryAttempt::Outcome::kDelivered) return result;
  // {"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}
  const json body = json::parse(answer.body, nullptr, false);
  if (!body.is_object()) return result;
  if (body.contains("parameters") && body["parameters"].is_object()) {
    const json& p = body["parameters"];
    if (p.contains("retry_after") && p["retry_after"].is_number() && p["retry_after"].get<double>() >= 0) {
      result.retry_after = p["retry_after"].get<double>();
    }
  }
  if (body.contains("description") && body["description"].is_string()) {
    std::string error = http->who() + ": HTTP " + std::to_string(answer.status);
    const std::string description = cut_code_points(printable_utf8(body["description"].get<std::string>()), kQuotedMax);
    if (std::optional<std::string> shown = http->redactor().redact(description); shown && !shown->empty()) {
      error.append(": ").append(*shown);
    }
    // A group that became a supergroup has a new chat id, which the API names.
    if (body.contains("parameters") && body["parameters"].is_object() &&
        body["parameters"].contains("migrate_to_chat_id") &&
        body["parameters"]["migrate_to_chat_id"].is_number_integer()) {
      error.append(" (the group is now chat ")
          .append(std::to_string(body["parameters"]["migrate_to_chat_id"].get<long long>()))
          .append(": set chat_id to it)");
    }
    result.error = std::move(error);
  }
  return result;
}

DeliveryAttempt TelegramNotifier::State::deliver(const std::string& text) {
  const json body = {{"chat_id", options.chat_id},
                     {"text", text},
                     {"parse_mode", "HTML"},
                     {"disable_web_page_preview", options.disable_web_page_preview}};
  HttpRequest request;
  request.url = endpoint;
  request.headers = {"Content-Type: application/json"};
  request.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return outcome(http->send(request));
}

DeliveryAttempt TelegramNotifier::send(const Alert& alert, const std::string& alert_json) {
  return send_digest(std::span<const Alert>(&alert, 1), std::span<const std::string>(&alert_json, 1));
}

DeliveryAttempt TelegramNotifier::send_digest(std::span<const Alert> alerts, std::span<const std::string> alert_jsons) {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  auto dead = [](std::string why) { return DeliveryAttempt{DeliveryAttempt::Outcome::kDead, 0, std::move(why), -1}; };
  if (!s.invalid.empty()) return dead(s.invalid);
  if (alerts.empty()) return dead(s.http->who() + ": no alerts to send");
  if (alert_jsons.size() != alerts.size()) return dead(s.http->who() + ": alerts and their JSON do not line up");
  return s.deliver(telegram_digest_text(alerts));
}

}  // namespace lodestone
