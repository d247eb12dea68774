// The webhook notifier: bodies and Standard Webhooks signatures; the request goes through net/http_sender.
#include "util/clock.h"
#include "net/curl_support.h"
#include "net/http_sender.h"
#include "notifiers/webhook/webhook.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <mutex>
#include <optional>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "notifiers/chat_format.h"
#include "notifiers/template.h"
#include "util/ascii.h"
#include "util/base64.h"

namespace lodestone {
namespace {

constexpr std::string_view kSecretPrefix = "whsec_";
// Discord's limits on an embed: its title and author name, its description, and all of it.
constexpr size_t kDiscordTitleMax = 256;
constexpr size_t kDiscordDescriptionMax = 4096;
constexpr size_t kDiscordEmbedMax = 6000;
// Slack: a section's text, and the fallback text of a message.
constexpr size_t kSlackTextMax = 3000;

using ascii::equals_ci;

// The signing key of a secret: nullopt when a "whsec_" secret does not decode.
std::optional<std::string> signing_key(std::string_view secret) {
  if (secret.substr(0, kSecretPrefix.size()) == kSecretPrefix)
    return base64_decode(secret.substr(kSecretPrefix.size()));
  return std::string(secret);
}

// "v1,<base64 HMAC-SHA256 over id.timestamp.body>"; empty when the key is empty or OpenSSL fails.
std::string sign(std::string_view key, std::string_view id, std::string_view timestamp, std::string_view body) {
  if (key.empty()) return {};
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* ctx = mac ? EVP_MAC_CTX_new(mac) : nullptr;
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t length = 0;
  bool ok = ctx && EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) == 1;
  for (std::string_view part : {id, std::string_view("."), timestamp, std::string_view("."), body}) {
    ok = ok && EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(part.data()), part.size()) == 1;
  }
  ok = ok && EVP_MAC_final(ctx, out, &length, sizeof out) == 1;
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  if (!ok) return {};
  return "v1," + base64_encode(std::string_view(reinterpret_cast<const char*>(out), length));
}

// What the notifier sets itself; a configured header of that name would send it twice.
bool is_reserved_header(std::string_view name) {
  for (std::string_view r :
       {"content-type", "content-length", "webhook-id", "webhook-timestamp", "webhook-signature"}) {
    if (equals_ci(name, r)) return true;
  }
  return false;
}

std::string dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

using json = nlohmann::ordered_json;

// Slack's rich_text elements are literal text (no mrkdwn is read in them), so a post's text
// needs no escaping there; the matched text is bold and the title a link.
json slack_text(const std::string& text, bool bold = false) {
  json e = {{"type", "text"}, {"text", text}};
  if (bold) e["style"] = {{"bold", true}};
  return e;
}

std::string slack_body(const AlertSummary& summary) {
  const AlertSummary s = shortened(summary, kSlackTextMax, kSlackTextMax);
  json head = json::array();
  if (!s.severity.empty()) head.push_back(slack_text(upper_ascii(s.severity) + " · ", true));
  head.push_back(slack_text(s.rule, true));
  head.push_back(slack_text("\n"));
  if (s.url.empty()) {
    head.push_back(slack_text(s.title));
  } else {
    head.push_back({{"type", "link"}, {"url", s.url}, {"text", s.title}});
  }
  json elements = json::array({{{"type", "rich_text_section"}, {"elements", head}}});
  if (!s.snippet.empty()) {
    json quote = json::array();
    for (const auto& p : s.snippet) quote.push_back(slack_text(p.text, p.marked));
    elements.push_back({{"type", "rich_text_quote"}, {"elements", quote}});
  }
  std::string context;
  for (const auto& v : s.values) context += (context.empty() ? "" : " · ") + v;
  if (!s.entity.empty()) context += (context.empty() ? "Entity: " : " · Entity: ") + entity_line(s);
  context += (context.empty() ? "Source: " : " · Source: ") + s.source;
  json blocks = json::array({{{"type", "rich_text"}, {"elements", elements}},
                             {{"type", "context"},
                              {"elements", json::array({{{"type", "plain_text"}, {"text", context}, {"emoji", false}}})}}});
  // The notification's text, which Slack does read as mrkdwn: & < > escaped, so no <!channel>.
  std::string fallback;
  if (!s.severity.empty()) fallback.append("[").append(upper_ascii(s.severity)).append("] ");
  fallback.append(s.rule).append(": ").append(s.title);
  return dump({{"text", cut_code_points(slack_escape(fallback), kSlackTextMax)}, {"blocks", blocks}});
}

// An embed colour per severity.
int discord_colour(const std::string& severity) {
  if (severity == "critical") return 0xB71C1C;
  if (severity == "high") return 0xE53935;
  if (severity == "medium") return 0xFB8C00;
  if (severity == "low") return 0xFDD835;
  return 0x1E88E5;
}

std::string discord_embed_description(const AlertSummary& s) {
  std::string d;
  for (const auto& p : s.snippet) d += p.marked ? "**" + markdown_escape(p.text) + "**" : markdown_escape(p.text);
  return d;
}

std::string discord_body(const AlertSummary& summary) {
  const auto render = [](const AlertSummary& s) {
    json embed;
    embed["author"] = {{"name", cut_code_points((s.severity.empty() ? "" : upper_ascii(s.severity) + " · ") + s.rule,
                                                kDiscordTitleMax)}};
    embed["title"] = cut_code_points(s.title, kDiscordTitleMax);
    if (!s.url.empty()) embed["url"] = s.url;
    const std::string description = discord_embed_description(s);
    if (!description.empty()) embed["description"] = description;
    embed["color"] = discord_colour(s.severity);
    json fields = json::array();
    for (const auto& v : s.values) fields.push_back({{"name", "Value"}, {"value", markdown_escape(v)}, {"inline", true}});
    if (!s.entity.empty()) fields.push_back({{"name", "Entity"}, {"value", markdown_escape(entity_line(s))}, {"inline", true}});
    fields.push_back({{"name", "Source"}, {"value", markdown_escape(s.source)}, {"inline", true}});
    embed["fields"] = fields;
    embed["footer"] = {{"text", "lodestone · alert " + s.alert_id}};
    // No mention in a post's text pings anyone, whatever it says.
    return dump({{"embeds", json::array({embed})}, {"allowed_mentions", {{"parse", json::array()}}}});
  };
  // What Discord counts against its limits: the description alone, and the embed's text in all.
  const auto measure = [](std::string_view body) {
    const json b = json::parse(body, nullptr, false);
    if (b.is_discarded()) return body.size();
    const json& e = b["embeds"][0];
    size_t total = 0;
    for (const char* key : {"title", "description"}) total += e.contains(key) ? code_points(e[key].get<std::string>()) : 0;
    total += code_points(e["author"]["name"].get<std::string>()) + code_points(e["footer"]["text"].get<std::string>());
    for (const auto& f : e["fields"]) total += code_points(f["name"].get<std::string>()) + code_points(f["value"].get<std::string>());
    const size_t description = e.contains("description") ? code_points(e["description"].get<std::string>()) : 0;
    return description > kDiscordDescriptionMax ? kDiscordEmbedMax + 1 : total;
  };
  return fit_message(summary, kDiscordEmbedMax, render, measure);
}

// How many alerts a Slack digest lists before "and N more": a message holds at most 50 blocks'
// worth, and a long list helps nobody in chat.
constexpr size_t kSlackDigestItems = 20;

std::string slack_digest(std::span<const Alert> alerts) {
  json items = json::array();
  const size_t shown = std::min(alerts.size(), kSlackDigestItems);
  for (size_t i = 0; i < shown; ++i) {
    const AlertSummary s = shortened(summarize_alert(alerts[i]), 0, 300);
    json e = json::array();
    if (!s.severity.empty()) e.push_back(slack_text(upper_ascii(s.severity) + " ", true));
    e.push_back(slack_text(s.rule + ": "));
    if (s.url.empty()) {
      e.push_back(slack_text(s.title));
    } else {
      e.push_back({{"type", "link"}, {"url", s.url}, {"text", s.title}});
    }
    items.push_back({{"type", "rich_text_section"}, {"elements", e}});
  }
  const std::string head = std::to_string(alerts.size()) + " alerts";
  json elements = json::array({{{"type", "rich_text_section"}, {"elements", json::array({slack_text(head, true)})}},
                               {{"type", "rich_text_list"}, {"style", "bullet"}, {"elements", items}}});
  if (shown < alerts.size()) {
    elements.push_back({{"type", "rich_text_section"},
                        {"elements", json::array({slack_text("and " + std::to_string(alerts.size() - shown) + " more")})}});
  }
  return dump({{"text", head}, {"blocks", json::array({{{"type", "rich_text"}, {"elements", elements}}})}});
}

std::string discord_digest(std::span<const Alert> alerts) {
  std::vector<std::string> lines;
  for (const Alert& a : alerts) {
    const AlertSummary s = shortened(summarize_alert(a), 0, 200);
    std::string line;
    if (!s.severity.empty()) line.append("**").append(upper_ascii(s.severity)).append("** ");
    line.append(markdown_escape(s.rule)).append(": ");
    if (s.url.empty()) {
      line.append(markdown_escape(s.title));
    } else {
      line.append("[").append(markdown_escape(s.title)).append("](").append(markdown_link_target(s.url)).append(")");
    }
    lines.push_back(std::move(line));
  }
  const auto count = [](std::string_view t) { return code_points(t); };
  const std::string description = fit_digest(
      "", lines, "\n", kDiscordDescriptionMax, [](size_t n) { return "and " + std::to_string(n) + " more"; }, count);
  const size_t first = description.find_first_not_of('\n');
  json embed = {{"title", std::to_string(alerts.size()) + " alerts"},
                {"description", first == std::string::npos ? std::string() : description.substr(first)},
                {"color", discord_colour(alerts.front().rule.severity)}};
  return dump({{"embeds", json::array({embed})}, {"allowed_mentions", {{"parse", json::array()}}}});
}

std::string body_for(const std::string& format, const std::string& timestamp, const Alert& alert,
                     const std::string& alert_json) {
  if (format == "slack") return slack_body(summarize_alert(alert));
  if (format == "discord") return discord_body(summarize_alert(alert));
  // The alert's bytes go out exactly as stored: concatenated, never parsed and dumped again.
  static constexpr std::string_view kHead = R"({"type":"lodestone.alert","timestamp":")";
  static constexpr std::string_view kData = R"(","data":)";
  std::string body;
  body.reserve(kHead.size() + timestamp.size() + kData.size() + alert_json.size() + 1);
  body.append(kHead).append(timestamp).append(kData).append(alert_json).append("}");
  return body;
}

}  // namespace

std::string standard_webhooks_signature(std::string_view secret, std::string_view id, std::string_view timestamp,
                                        std::string_view body) {
  std::optional<std::string> key = signing_key(secret);
  if (!key) return {};
  return sign(*key, id, timestamp, body);
}

namespace {

// check_webhook_options(), keeping the loaded template for the notifier when `loaded` is given.
std::string check_options(const WebhookOptions& o, std::optional<Template>* loaded) {
  if (o.name.empty()) return "a webhook needs a name";
  const std::string who = "webhook \"" + o.name + "\": ";
  if (o.format != "json" && o.format != "slack" && o.format != "discord" && o.format != "template") {
    return who + "format must be json, slack, discord or template, not \"" + o.format + "\"";
  }
  if (o.format == "template") {
    if (o.template_path.empty()) return who + "format template needs a template file";
    try {
      Template t = Template::load(o.template_path);
      if (loaded) loaded->emplace(std::move(t));
    } catch (const std::exception& e) {
      return who + e.what();
    }
    if (o.content_type.empty() || o.content_type.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return who + "content_type must be one line of text";
    }
  }
  if (!(o.timeout > 0) || !std::isfinite(o.timeout)) return who + "timeout must be a positive number of seconds";
  if (!(o.digest >= 0) || !std::isfinite(o.digest)) return who + "digest must be 0 or a number of seconds";
  if (o.digest > 0 && o.format == "template") {
    return who + "digest works with format json, slack or discord: a template renders one alert";
  }
  // The URL itself is never quoted: it may carry a password or a token.
  std::optional<UrlParts> url = split_url(o.url);
  if (!url) return who + "url is not a valid URL";
  if (url->scheme != "http" && url->scheme != "https") return who + "url must start with http:// or https://";
  if (url->host.empty()) return who + "url has no host";
  std::optional<std::string> key = signing_key(o.secret);
  if (!key) return who + "secret starts with \"whsec_\" but the rest is not base64";
  if (!o.secret.empty() && key->empty()) return who + "secret \"whsec_\" holds no key";
  for (const auto& [name, value] : o.headers) {
    if (!is_header_name(name)) return who + "\"" + name + "\" is not a valid HTTP header name";
    if (is_reserved_header(name)) return who + "header \"" + name + "\" is set by the notifier itself";
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return who + "header \"" + name + "\" has a line break or NUL in its value";
    }
  }
  return {};
}

}  // namespace

Result<void> check_webhook_options(const WebhookOptions& o) {
  if (std::string why = check_options(o, nullptr); !why.empty()) return Failure{why};
  return {};
}

struct WebhookNotifier::State {
  WebhookOptions options;
  std::string invalid;  // why the options cannot work; empty when they can
  std::string key;      // the signing key; empty: no signature
  std::optional<Template> body_template;  // format "template"
  std::unique_ptr<HttpSender> http;
  std::mutex mutex;
};

WebhookNotifier::WebhookNotifier(WebhookOptions options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = std::move(options);
  const WebhookOptions& o = s.options;
  s.invalid = check_options(o, &s.body_template);
  if (!s.invalid.empty()) return;

  s.key = *signing_key(o.secret);
  const UrlParts url = *split_url(o.url);
  // Slack and Discord carry their token in the path, so for them the path is hidden too.
  const bool path_is_secret = o.format == "slack" || o.format == "discord";
  std::string who = endpoint_who("webhook", o.name, url, path_is_secret ? "/…" : url.path);
  Redactor redactor;
  redactor.hide_all(url.hidden);
  if (path_is_secret && url.path.size() > 1) redactor.hide(url.path);
  redactor.hide(o.secret);
  if (o.secret.size() > kSecretPrefix.size() && o.secret.substr(0, kSecretPrefix.size()) == kSecretPrefix) {
    redactor.hide(o.secret.substr(kSecretPrefix.size()));
  }
  s.http = std::make_unique<HttpSender>(std::move(who), o.timeout, std::move(redactor));
  s.invalid = s.http->invalid();
}

WebhookNotifier::~WebhookNotifier() = default;

void WebhookNotifier::cancel() {
  if (state_->http) state_->http->cancel();
}

const std::string& WebhookNotifier::name() const { return state_->options.name; }

DeliveryAttempt WebhookNotifier::send(const Alert& alert, const std::string& alert_json) {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  DeliveryAttempt result;
  auto dead = [&result](std::string why) {
    result.outcome = DeliveryAttempt::Outcome::kDead;
    result.error = std::move(why);
    return result;
  };
  if (!s.invalid.empty()) return dead(s.invalid);
  // The id is the receiver's idempotency key; it goes into a header, and into the signed content
  // where the specification forbids a "." in it. Alert ids are hex: anything else is a bug upstream.
  if (alert.id.empty() || alert.id.find_first_of("\r\n.") != std::string::npos) {
    return dead(s.http->who() + ": the alert has no usable id");
  }

  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::string body;
  if (s.body_template) {
    try {
      body = s.body_template->render(alert_json, escape_for_content_type(s.options.content_type));
    } catch (const std::exception& e) {
      return dead(s.http->who() + ": " + e.what());
    }
  } else {
    // The body's timestamp is when the alert was made, not this attempt's time (that is in the
    // webhook-timestamp header): every attempt then sends the same bytes.
    const std::string event_time = alert.matched_at.empty() ? rfc3339_utc(now) : alert.matched_at;
    body = body_for(s.options.format, event_time, alert, alert_json);
  }
  const std::string content_type = s.body_template ? s.options.content_type : "application/json";

  return post(alert.id, std::move(body), content_type);
}

DeliveryAttempt WebhookNotifier::post(const std::string& id, std::string body, const std::string& content_type) {
  State& s = *state_;
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  const std::string timestamp = std::to_string(static_cast<long long>(now));
  HttpRequest request;
  request.url = s.options.url;
  request.body = std::move(body);
  request.headers = {"Content-Type: " + content_type, "webhook-id: " + id, "webhook-timestamp: " + timestamp};
  if (!s.key.empty()) request.headers.push_back("webhook-signature: " + sign(s.key, id, timestamp, request.body));
  for (const auto& [name, value] : s.options.headers) {
    // "Name;" is curl's way to send a header with an empty value ("Name:" would remove it).
    request.headers.push_back(value.empty() ? name + ";" : name + ": " + value);
  }
  return s.http->outcome(s.http->send(request));
}

double WebhookNotifier::digest_interval() const { return state_->options.digest; }

DeliveryAttempt WebhookNotifier::send_digest(std::span<const Alert> alerts, std::span<const std::string> alert_jsons) {
  if (alerts.size() == 1) return send(alerts.front(), alert_jsons.front());
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.invalid.empty()) return {DeliveryAttempt::Outcome::kDead, 0, s.invalid, -1};
  if (alerts.empty()) return {DeliveryAttempt::Outcome::kDelivered, 0, "", -1};
  std::string body;
  if (s.options.format == "slack") {
    body = slack_digest(alerts);
  } else if (s.options.format == "discord") {
    body = discord_digest(alerts);
  } else {
    // The alerts' bytes as stored, as in one alert's body.
    const std::string& when = alerts.back().matched_at;
    body = R"({"type":"lodestone.digest","timestamp":")" + when + R"(","data":[)";
    for (size_t i = 0; i < alert_jsons.size(); ++i) body.append(i ? "," : "").append(alert_jsons[i]);
    body += "]}";
  }
  return post(digest_key(alerts), std::move(body), "application/json");
}

}  // namespace lodestone
