// The line notifier: the plain text of an alert, the push request with its retry key, and what
// the Messaging API's answers mean; the request goes through net/http_sender.
#include "notifiers/line/line.h"

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
// How much of the API's message and details an error quotes.
constexpr size_t kQuotedMax = 300;

std::string render(const AlertSummary& s) {
  std::string t;
  if (!s.severity.empty()) t.append(upper_ascii(s.severity)).append(" · ");
  t.append(s.rule).append("\n").append(s.title);
  if (!s.url.empty()) t.append("\n").append(s.url);
  if (!s.snippet.empty()) {
    t += '\n';
    for (const auto& p : s.snippet) {
      if (p.marked) {
        t.append("«").append(p.text).append("»");
      } else {
        t.append(p.text);
      }
    }
  }
  if (!s.values.empty()) {
    t += '\n';
    for (size_t i = 0; i < s.values.size(); ++i) t.append(i ? " · " : "").append(s.values[i]);
  }
  if (!s.entity.empty()) t.append("\nEntity: ").append(entity_line(s));
  t.append("\nSource: ").append(s.source);
  return t;
}

size_t measure(std::string_view text) { return utf16_units(text); }

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// U…, C… or R… and 32 hex digits: what the Messaging API's ids look like.
bool is_line_id(std::string_view id) {
  if (id.size() != 33 || (id[0] != 'U' && id[0] != 'C' && id[0] != 'R')) return false;
  for (const char c : id.substr(1)) {
    if (!is_hex(c)) return false;
  }
  return true;
}

// A token goes into a header: printable ASCII without spaces.
bool is_token(std::string_view token) {
  for (const char c : token) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return !token.empty();
}

std::string check_options(const LineOptions& o) {
  if (o.name.empty()) return "a line notifier needs a name";
  const std::string who = "line \"" + o.name + "\": ";
  if (o.channel_access_token.empty()) return who + "channel_access_token is required";
  if (!is_token(o.channel_access_token)) return who + "channel_access_token must be one word of printable ASCII";
  if (o.to.empty()) return who + "to is required";
  if (!is_line_id(o.to)) return who + "to must be a user, group or room id: U, C or R and 32 hex digits";
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

// "The request body has 1 error(s): messages[0].text: Length must be between 0 and 5000".
std::string api_reason(const json& body) {
  std::string reason;
  if (body.contains("message") && body["message"].is_string()) reason = body["message"].get<std::string>();
  if (body.contains("details") && body["details"].is_array()) {
    for (const json& d : body["details"]) {
      if (!d.is_object()) continue;
      std::string detail;
      if (d.contains("property") && d["property"].is_string()) detail = d["property"].get<std::string>() + ": ";
      if (d.contains("message") && d["message"].is_string()) detail += d["message"].get<std::string>();
      if (!detail.empty()) reason.append(reason.empty() ? "" : "; ").append(detail);
    }
  }
  return reason;
}

}  // namespace

std::string line_retry_key(std::string_view hex32) {
  if (hex32.size() != 32) return {};
  std::string key;
  key.reserve(36);
  for (size_t i = 0; i < hex32.size(); ++i) {
    const char c = hex32[i];
    if (!is_hex(c)) return {};
    if (i == 8 || i == 12 || i == 16 || i == 20) key += '-';
    key += c >= 'A' && c <= 'F' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return key;
}

std::string line_text(const AlertSummary& summary) {
  return fit_message(shortened(summary, SIZE_MAX, kTitleMax), kLineTextMax, render, measure);
}

std::string line_digest_text(std::span<const Alert> alerts) {
  if (alerts.size() == 1) return line_text(summarize_alert(alerts.front()));
  std::vector<std::string> items;
  items.reserve(alerts.size());
  for (const Alert& a : alerts)
    items.push_back(
        fit_message(shortened(summarize_alert(a), SIZE_MAX, kDigestTitleMax), kDigestItemMax, render, measure));
  const std::string head = "Lodestone · " + std::to_string(alerts.size()) + " alerts";
  return fit_digest(
      head, items, "\n\n", kLineTextMax, [](size_t n) { return "and " + std::to_string(n) + " more"; }, measure);
}

Result<void> check_line_options(const LineOptions& o) {
  if (std::string why = check_options(o); !why.empty()) return Failure{why};
  return {};
}

struct LineNotifier::State {
  LineOptions options;
  std::string invalid;   // why the options cannot work; empty when they can
  std::string endpoint;  // …/v2/bot/message/push
  std::unique_ptr<HttpSender> http;
  std::mutex mutex;

  DeliveryAttempt deliver(const std::string& text, const std::string& retry_key);
  DeliveryAttempt outcome(const HttpAnswer& answer) const;
};

LineNotifier::LineNotifier(LineOptions options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = std::move(options);
  const LineOptions& o = s.options;
  s.invalid = check_options(o);
  if (!s.invalid.empty()) return;
  s.endpoint = without_trailing_slash(o.base_url) + "/v2/bot/message/push";
  const UrlParts url = *split_url(s.endpoint);
  std::string who = endpoint_who("line", o.name, url, url.path);
  Redactor redactor;
  redactor.hide(o.channel_access_token);
  s.http = std::make_unique<HttpSender>(std::move(who), o.timeout, std::move(redactor));
  s.invalid = s.http->invalid();
}

LineNotifier::~LineNotifier() = default;

const std::string& LineNotifier::name() const { return state_->options.name; }

double LineNotifier::digest_interval() const { return state_->options.digest; }

void LineNotifier::cancel() {
  if (state_->http) state_->http->cancel();
}

DeliveryAttempt LineNotifier::State::outcome(const HttpAnswer& answer) const {
  DeliveryAttempt result = http->outcome(answer);
  if (!answer.transferred || result.outcome == DeliveryAttempt::Outcome::kDelivered) return result;
  // 409: "The retry key is already accepted": an earlier attempt of this message got through.
  if (answer.status == 409) {
    result.outcome = DeliveryAttempt::Outcome::kDelivered;
    result.error.clear();
    result.retry_after = -1;
    return result;
  }
  const json body = json::parse(answer.body, nullptr, false);
  if (!body.is_object()) return result;
  const std::string reason = cut_code_points(printable_utf8(api_reason(body)), kQuotedMax);
  if (reason.empty()) return result;
  std::string error = http->who() + ": HTTP " + std::to_string(answer.status);
  if (std::optional<std::string> shown = http->redactor().redact(reason); shown) error.append(": ").append(*shown);
  result.error = std::move(error);
  return result;
}

DeliveryAttempt LineNotifier::State::deliver(const std::string& text, const std::string& retry_key) {
  const json body = {{"to", options.to}, {"messages", json::array({{{"type", "text"}, {"text", text}}})}};
  HttpRequest request;
  request.url = endpoint;
  request.headers = {"Content-Type: application/json", "Authorization: Bearer " + options.channel_access_token,
                     "X-Line-Retry-Key: " + retry_key};
  request.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return outcome(http->send(request));
}

DeliveryAttempt LineNotifier::send(const Alert& alert, const std::string& alert_json) {
  return send_digest(std::span<const Alert>(&alert, 1), std::span<const std::string>(&alert_json, 1));
}

DeliveryAttempt LineNotifier::send_digest(std::span<const Alert> alerts, std::span<const std::string> alert_jsons) {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  auto dead = [](std::string why) { return DeliveryAttempt{DeliveryAttempt::Outcome::kDead, 0, std::move(why), -1}; };
  if (!s.invalid.empty()) return dead(s.invalid);
  if (alerts.empty()) return dead(s.http->who() + ": no alerts to send");
  if (alert_jsons.size() != alerts.size()) return dead(s.http->who() + ": alerts and their JSON do not line up");
  const std::string key = line_retry_key(digest_key(alerts));
  if (key.empty()) return dead(s.http->who() + ": the alert has no usable id (32 hex digits) for X-Line-Retry-Key");
  return s.deliver(line_digest_text(alerts), key);
}

}  // namespace lodestone
