// The ntfy notifier: the Markdown message of an alert, its headers (RFC 2047 where not ASCII),
// and what ntfy's answers mean; the request goes through net/http_sender.
#include "notifiers/ntfy/ntfy.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <optional>

#include <nlohmann/json.hpp>

#include "net/curl_support.h"
#include "net/http_sender.h"
#include "notifiers/chat_format.h"
#include "util/base64.h"

namespace lodestone {
namespace {

using json = nlohmann::ordered_json;

// How much of its limit one alert of a digest may take, so that several are shown.
constexpr size_t kDigestItemMax = 1000;
constexpr size_t kDigestTitleMax = 200;
// A post's title longer than this is cut before anything else, so that the snippet keeps room.
constexpr size_t kPostTitleMax = 512;
// A title is a notification's first line: longer than this it is cut.
constexpr size_t kTitleMax = 250;
// Bytes of UTF-8 per encoded word: base64 of 45 bytes is 60 characters, and the word 72 (RFC 2047: 75 at most).
constexpr size_t kWordBytes = 45;
// How much of ntfy's error an error quotes.
constexpr size_t kQuotedMax = 200;

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// markdown_escape(), and "&" too, so that "&lt;" in a post is shown as it is, not as "<".
std::string escape(std::string_view text) {
  std::string out;
  for (const char c : markdown_escape(text)) {
    if (c == '&') out += '\\';
    out += c;
  }
  return out;
}

std::string render(const AlertSummary& s, bool with_head) {
  std::string t;
  if (with_head) {
    t.append("**");
    if (!s.severity.empty()) t.append(escape(upper_ascii(s.severity))).append(" · ");
    t.append(escape(s.rule)).append("**\n\n");
  }
  if (s.url.empty()) {
    t.append(escape(s.title));
  } else {
    t.append("[").append(escape(s.title)).append("](").append(markdown_link_target(s.url)).append(")");
  }
  if (!s.snippet.empty()) {
    t.append("\n\n> ");
    for (const auto& p : s.snippet) {
      if (p.text.empty()) continue;
      if (p.marked) {
        t.append("**").append(escape(p.text)).append("**");
      } else {
        t.append(escape(p.text));
      }
    }
  }
  if (!s.values.empty()) {
    t.append("\n\n");
    for (size_t i = 0; i < s.values.size(); ++i) t.append(i ? " · " : "").append(escape(s.values[i]));
  }
  if (!s.entity.empty()) t.append("\n\nEntity: ").append(escape(entity_line(s)));
  t.append("\n\nSource: ").append(escape(s.source));
  return t;
}

size_t bytes(std::string_view text) { return text.size(); }

// A token goes into a header: printable ASCII without spaces.
bool is_token(std::string_view token) {
  for (const char c : token) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

// ntfy's topic names: 1 to 64 of A-Z a-z 0-9 _ -.
bool is_topic(std::string_view topic) {
  if (topic.empty() || topic.size() > 64) return false;
  for (const char c : topic) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  }
  return true;
}

std::string check_options(const NtfyOptions& o) {
  if (o.name.empty()) return "an ntfy notifier needs a name";
  const std::string who = "ntfy \"" + o.name + "\": ";
  if (o.url.empty()) return who + "url is required";
  // The URL itself is never quoted: it may carry a password.
  std::optional<UrlParts> url = split_url(o.url);
  if (!url) return who + "url is not a valid URL";
  if (url->scheme != "http" && url->scheme != "https") return who + "url must start with http:// or https://";
  if (url->host.empty()) return who + "url has no host";
  std::string_view path = url->path;
  const size_t slash = path.rfind('/');
  const std::string_view topic = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (!is_topic(topic)) {
    return who + "url must end in the topic: 1 to 64 letters, digits, \"_\" or \"-\" (https://ntfy.sh/mytopic)";
  }
  if (!is_token(o.token)) return who + "token must be one word of printable ASCII";
  if (!(o.timeout > 0) || !std::isfinite(o.timeout)) return who + "timeout must be a positive number of seconds";
  if (!(o.digest >= 0) || !std::isfinite(o.digest)) return who + "digest must be 0 or a number of seconds";
  return {};
}

std::string title_of(const AlertSummary& s) {
  return cut_code_points(s.severity.empty() ? s.rule : upper_ascii(s.severity) + " · " + s.rule, kTitleMax);
}

std::string joined(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const auto& item : items) out.append(out.empty() ? "" : separator).append(item);
  return out;
}

std::vector<std::string> headers_of(const std::string& title, int priority, const std::vector<std::string>& tags,
                                    const std::string& click) {
  std::vector<std::string> h = {"Title: " + ntfy_header_value(title)};
  if (priority > 0) h.push_back("Priority: " + std::to_string(priority));
  if (!tags.empty()) h.push_back("Tags: " + ntfy_header_value(joined(tags, ",")));
  // A URL with bytes past ASCII is sent percent-encoded, as a URL may always be.
  if (!click.empty()) h.push_back("Click: " + ntfy_header_value(markdown_link_target(click)));
  h.emplace_back("Markdown: yes");
  return h;
}

}  // namespace

int ntfy_priority(const std::string& severity) {
  if (severity == "critical") return 5;
  if (severity == "high") return 4;
  if (severity == "medium") return 3;
  if (severity == "low") return 2;
  if (severity == "info") return 1;
  return 0;
}

std::string ntfy_header_value(std::string_view value) {
  std::string plain(value);
  bool ascii = true;
  for (char& c : plain) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f) c = ' ';
    if (b >= 0x80) ascii = false;
  }
  if (ascii && plain.find("=?") == std::string::npos) return plain;
  std::string out;
  for (size_t at = 0; at < plain.size();) {
    size_t end = std::min(plain.size(), at + kWordBytes);
    while (end > at + 1 && end < plain.size() && is_continuation(plain[end])) --end;
    out.append(out.empty() ? "" : " ")
        .append("=?UTF-8?B?")
        .append(base64_encode(std::string_view(plain).substr(at, end - at)))
        .append("?=");
    at = end;
  }
  return out;
}

std::string ntfy_message(const AlertSummary& summary) {
  return fit_message(
      shortened(summary, SIZE_MAX, kPostTitleMax), kNtfyMessageMax,
      [](const AlertSummary& s) { return render(s, false); }, bytes);
}

std::string ntfy_digest_message(std::span<const Alert> alerts) {
  if (alerts.size() == 1) return ntfy_message(summarize_alert(alerts.front()));
  std::vector<std::string> items;
  items.reserve(alerts.size());
  for (const Alert& a : alerts) {
    items.push_back(fit_message(
        shortened(summarize_alert(a), SIZE_MAX, kDigestTitleMax), kDigestItemMax,
        [](const AlertSummary& s) { return render(s, true); }, bytes));
  }
  const std::string head = "**Lodestone** · " + std::to_string(alerts.size()) + " alerts";
  return fit_digest(
      head, items, "\n\n---\n\n", kNtfyMessageMax, [](size_t n) { return "and " + std::to_string(n) + " more"; },
      bytes);
}

std::vector<std::string> ntfy_headers(const AlertSummary& s) {
  return headers_of(title_of(s), ntfy_priority(s.severity), s.tags, s.url);
}

std::vector<std::string> ntfy_digest_headers(std::span<const Alert> alerts) {
  if (alerts.size() == 1) return ntfy_headers(summarize_alert(alerts.front()));
  int priority = 0;
  std::vector<std::string> tags;
  for (const Alert& a : alerts) {
    const AlertSummary s = summarize_alert(a);
    priority = std::max(priority, ntfy_priority(s.severity));
    for (const auto& tag : s.tags) {
      if (std::find(tags.begin(), tags.end(), tag) == tags.end()) tags.push_back(tag);
    }
  }
  return headers_of("Lodestone · " + std::to_string(alerts.size()) + " alerts", priority, tags, "");
}

Result<void> check_ntfy_options(const NtfyOptions& o) {
  if (std::string why = check_options(o); !why.empty()) return Failure{why};
  return {};
}

struct NtfyNotifier::State {
  NtfyOptions options;
  std::string invalid;  // why the options cannot work; empty when they can
  std::unique_ptr<HttpSender> http;
  std::mutex mutex;

  DeliveryAttempt outcome(const HttpAnswer& answer) const;
};

NtfyNotifier::NtfyNotifier(NtfyOptions options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = std::move(options);
  const NtfyOptions& o = s.options;
  s.invalid = check_options(o);
  if (!s.invalid.empty()) return;
  const UrlParts url = *split_url(o.url);
  std::string who = endpoint_who("ntfy", o.name, url, url.path);
  Redactor redactor;
  redactor.hide_all(url.hidden);
  redactor.hide(o.token);
  s.http = std::make_unique<HttpSender>(std::move(who), o.timeout, std::move(redactor));
  s.invalid = s.http->invalid();
}

NtfyNotifier::~NtfyNotifier() = default;

const std::string& NtfyNotifier::name() const { return state_->options.name; }

double NtfyNotifier::digest_interval() const { return state_->options.digest; }

void NtfyNotifier::cancel() {
  if (state_->http) state_->http->cancel();
}

DeliveryAttempt NtfyNotifier::State::outcome(const HttpAnswer& answer) const {
  DeliveryAttempt result = http->outcome(answer);
  if (!answer.transferred || result.outcome == DeliveryAttempt::Outcome::kDelivered) return result;
  // {"code":41301,"http":413,"error":"message too large"}
  const json body = json::parse(answer.body, nullptr, false);
  if (!body.is_object() || !body.contains("error") || !body["error"].is_string()) return result;
  const std::string reason = cut_code_points(printable_utf8(body["error"].get<std::string>()), kQuotedMax);
  std::string error = http->who() + ": HTTP " + std::to_string(answer.status);
  if (std::optional<std::string> shown = http->redactor().redact(reason); shown && !shown->empty()) {
    error.append(": ").append(*shown);
  }
  result.error = std::move(error);
  return result;
}

DeliveryAttempt NtfyNotifier::send(const Alert& alert, const std::string& alert_json) {
  return send_digest(std::span<const Alert>(&alert, 1), std::span<const std::string>(&alert_json, 1));
}

DeliveryAttempt NtfyNotifier::send_digest(std::span<const Alert> alerts, std::span<const std::string> alert_jsons) {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  auto dead = [](std::string why) { return DeliveryAttempt{DeliveryAttempt::Outcome::kDead, 0, std::move(why), -1}; };
  if (!s.invalid.empty()) return dead(s.invalid);
  if (alerts.empty()) return dead(s.http->who() + ": no alerts to send");
  if (alert_jsons.size() != alerts.size()) return dead(s.http->who() + ": alerts and their JSON do not line up");
  HttpRequest request;
  request.url = s.options.url;
  request.body = ntfy_digest_message(alerts);
  request.headers = ntfy_digest_headers(alerts);
  request.headers.emplace_back("Content-Type: text/plain; charset=utf-8");
  if (!s.options.token.empty()) request.headers.push_back("Authorization: Bearer " + s.options.token);
  return s.outcome(s.http->send(request));
}

}  // namespace lodestone
