// The matrix notifier: m.room.message events in plain text and HTML, and what a homeserver's
// answers mean; the request goes through net/http_sender.
#include "notifiers/matrix/matrix.h"

#include <cmath>
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

// What a digest shows of each alert: enough to know it, little enough that several fit.
constexpr size_t kDigestSnippetMax = 200;
constexpr size_t kDigestTitleMax = 200;
// How much of an error's errcode and text an error quotes.
constexpr size_t kQuotedMax = 300;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// RFC 3986 percent-encoding of everything but the unreserved characters.
std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    const bool unreserved = (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' ||
                            b == '.' || b == '_' || b == '~';
    if (unreserved) {
      out += c;
    } else {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0x0F];
    }
  }
  return out;
}

// One alert's message, as plain text and as HTML.
struct Rendered {
  std::string plain, html;
};

Rendered render_parts(const AlertSummary& s) {
  Rendered r;
  std::string head = s.severity.empty() ? std::string() : upper_ascii(s.severity).append(" · ");
  head.append(s.rule);
  r.plain.append(head).append("\n").append(s.title);
  r.html.append("<strong>").append(html_escape(head)).append("</strong><br>");
  if (s.url.empty()) {
    r.html.append(html_escape(s.title));
  } else {
    r.plain.append("\n").append(s.url);
    r.html.append("<a href=\"").append(html_escape(s.url)).append("\">").append(html_escape(s.title)).append("</a>");
  }
  if (!s.snippet.empty()) {
    r.plain.append("\n> ");
    r.html.append("<blockquote>");
    for (const auto& piece : s.snippet) {
      if (piece.marked) {
        r.plain.append("«").append(piece.text).append("»");
        r.html.append("<strong>").append(html_escape(piece.text)).append("</strong>");
      } else {
        r.plain.append(piece.text);
        r.html.append(html_escape(piece.text));
      }
    }
    r.html.append("</blockquote>");
  }
  std::vector<std::string> tail;
  std::string values;
  for (const auto& v : s.values) values.append(values.empty() ? "" : " · ").append(v);
  if (!values.empty()) tail.push_back(values);
  if (!s.entity.empty()) tail.push_back(std::string("Entity: ").append(entity_line(s)));
  tail.push_back(std::string("Source: ").append(s.source));
  bool first = true;
  for (const auto& line : tail) {
    r.plain.append("\n").append(line);
    // After a </blockquote> a new block starts by itself; elsewhere a <br> ends the line before.
    if (!(first && !s.snippet.empty())) r.html.append("<br>");
    r.html.append(html_escape(line));
    first = false;
  }
  return r;
}

std::string event(const std::string& plain, const std::string& html) {
  return dump({{"msgtype", "m.text"},
               {"body", plain},
               {"format", "org.matrix.custom.html"},
               {"formatted_body", html},
               {"m.mentions", json::object()}});
}

std::string render(const AlertSummary& s) {
  const Rendered r = render_parts(s);
  return event(r.plain, r.html);
}

std::string string_at(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// How many of `items` fit_digest() kept in `out`, which starts with `head`.
size_t items_kept(const std::string& out, const std::string& head, const std::vector<std::string>& items,
                  const std::string& separator) {
  size_t at = head.size(), kept = 0;
  for (const auto& item : items) {
    const std::string next = separator + item;
    if (out.compare(at, next.size(), next) != 0) break;
    const size_t end = at + next.size();
    // The item is there whole: the text goes on with a separator, or ends.
    if (end != out.size() && out.compare(end, separator.size(), separator) != 0) break;
    at = end;
    ++kept;
  }
  return kept;
}

}  // namespace

std::string matrix_send_path(std::string_view room_id, std::string_view txn_id) {
  return std::string("/_matrix/client/v3/rooms/")
      .append(percent_encode(room_id))
      .append("/send/m.room.message/")
      .append(percent_encode(txn_id));
}

std::string matrix_event(const AlertSummary& summary) {
  return fit_message(summary, kMatrixBodyMax, render, [](std::string_view body) { return body.size(); });
}

std::string matrix_digest_event(std::span<const Alert> alerts) {
  if (alerts.size() == 1) return matrix_event(summarize_alert(alerts.front()));
  std::vector<std::string> html_items, plain_items;
  for (const Alert& a : alerts) {
    Rendered r = render_parts(shortened(summarize_alert(a), kDigestSnippetMax, kDigestTitleMax));
    html_items.push_back(std::move(r.html));
    plain_items.push_back(std::move(r.plain));
  }
  const std::string count = std::to_string(alerts.size()).append(" alerts");
  const std::string html_head = std::string("<strong>").append(count).append("</strong>");
  const std::string html_separator = "<hr>", plain_separator = "\n\n";
  const auto more = [](size_t n) { return std::string("and ").append(std::to_string(n)).append(" more"); };
  // The HTML is fitted, and the plain text shows the same alerts. Each piece of the plain text is
  // no longer in JSON than its HTML (markup and entities against « », "> " and \n), so twice the
  // HTML's JSON, with the event around it, bounds the whole event.
  const size_t envelope = event("", "").size();
  const auto measure = [envelope](std::string_view html) { return envelope + 2 * dump(json(std::string(html))).size(); };
  const std::string html = fit_digest(html_head, html_items, html_separator, kMatrixBodyMax, more, measure);
  const size_t kept = items_kept(html, html_head, html_items, html_separator);
  std::string plain = count;
  for (size_t i = 0; i < kept; ++i) plain.append(plain_separator).append(plain_items[i]);
  if (kept < alerts.size()) plain.append(plain_separator).append(more(alerts.size() - kept));
  return event(plain, html);
}

namespace {

std::string check_options(const MatrixOptions& o) {
  if (o.name.empty()) return "a matrix notifier needs a name";
  const std::string who = "matrix \"" + o.name + "\": ";
  if (o.homeserver.empty()) return who + "homeserver is required (the base URL, like https://matrix.example.org)";
  std::optional<UrlParts> url = split_url(o.homeserver);
  if (!url) return who + "homeserver is not a valid URL";
  if (url->scheme != "http" && url->scheme != "https") return who + "homeserver must start with https://";
  if (url->host.empty()) return who + "homeserver has no host";
  if (o.homeserver.find_first_of("?#") != std::string::npos) {
    return who + "homeserver must be a base URL, without a query or a fragment";
  }
  if (o.room_id.empty()) return who + "room_id is required (like \"!AbCdEf:example.org\")";
  if (o.room_id.front() != '!') {
    return who + "room_id must be a room id starting with \"!\" (an alias like #room:example.org is not one)";
  }
  for (const char c : o.room_id) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return who + "room_id must not hold spaces or control characters";
  }
  if (o.access_token.empty()) return who + "access_token is required";
  for (const char c : o.access_token) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return who + "access_token holds a line break or control character";
  }
  if (!(o.timeout > 0) || !std::isfinite(o.timeout)) return who + "timeout must be a positive number of seconds";
  if (!(o.digest >= 0) || !std::isfinite(o.digest)) return who + "digest must be 0 or a number of seconds";
  return {};
}

}  // namespace

Result<void> check_matrix_options(const MatrixOptions& o) {
  if (std::string why = check_options(o); !why.empty()) return Failure{why};
  return {};
}

struct MatrixNotifier::State {
  MatrixOptions options;
  std::string invalid;  // why the options cannot work; empty when they can
  std::string base;     // the homeserver without a trailing "/"
  std::unique_ptr<HttpSender> http;
  std::mutex mutex;

  DeliveryAttempt put(const std::string& txn_id, std::string body);
};

MatrixNotifier::MatrixNotifier(MatrixOptions options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = std::move(options);
  const MatrixOptions& o = s.options;
  s.invalid = check_options(o);
  if (!s.invalid.empty()) return;
  s.base = o.homeserver;
  while (!s.base.empty() && s.base.back() == '/') s.base.pop_back();
  const UrlParts url = *split_url(o.homeserver);
  std::string path = url.path;
  while (!path.empty() && path.back() == '/') path.pop_back();
  std::string who = endpoint_who("matrix", o.name, url, path, ", room " + o.room_id);
  Redactor redactor;
  redactor.hide_all(url.hidden);
  redactor.hide(o.access_token);
  s.http = std::make_unique<HttpSender>(std::move(who), o.timeout, std::move(redactor));
  s.invalid = s.http->invalid();
}

MatrixNotifier::~MatrixNotifier() = default;

const std::string& MatrixNotifier::name() const { return state_->options.name; }

double MatrixNotifier::digest_interval() const { return state_->options.digest; }

void MatrixNotifier::cancel() {
  if (state_->http) state_->http->cancel();
}

DeliveryAttempt MatrixNotifier::State::put(const std::string& txn_id, std::string body) {
  HttpRequest request;
  request.method = "PUT";
  request.url = base + matrix_send_path(options.room_id, txn_id);
  request.headers = {"Authorization: Bearer " + options.access_token, "Content-Type: application/json"};
  request.body = std::move(body);
  const HttpAnswer answer = http->send(request);
  DeliveryAttempt result = http->outcome(answer);
  if (!answer.transferred || result.outcome == DeliveryAttempt::Outcome::kDelivered) return result;
  // The homeserver's reason: {"errcode":"M_FORBIDDEN","error":"…"}, and for M_LIMIT_EXCEEDED the
  // wait in retry_after_ms (a Retry-After header, where a newer server sends one, comes first).
  const json j = json::parse(answer.body, nullptr, false);
  if (!j.is_object()) return result;
  if (result.outcome == DeliveryAttempt::Outcome::kRetry && result.retry_after < 0) {
    const auto ms = j.find("retry_after_ms");
    if (ms != j.end() && ms->is_number() && ms->get<double>() >= 0) result.retry_after = ms->get<double>() / 1000;
  }
  std::string what = string_at(j, "errcode");
  const std::string text = string_at(j, "error");
  if (!text.empty()) what.append(what.empty() ? "" : ": ").append(text);
  what = cut_code_points(printable_utf8(what), kQuotedMax);
  if (what.empty()) return result;
  if (std::optional<std::string> shown = http->redactor().redact(what)) {
    result.error = http->who() + ": HTTP " + std::to_string(answer.status) + " " + *shown;
  }
  return result;
}

DeliveryAttempt MatrixNotifier::send(const Alert& alert, const std::string& alert_json) {
  return send_digest(std::span<const Alert>(&alert, 1), std::span<const std::string>(&alert_json, 1));
}

DeliveryAttempt MatrixNotifier::send_digest(std::span<const Alert> alerts, std::span<const std::string> alert_jsons) {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  auto dead = [](std::string why) { return DeliveryAttempt{DeliveryAttempt::Outcome::kDead, 0, std::move(why), -1}; };
  if (!s.invalid.empty()) return dead(s.invalid);
  if (alerts.empty()) return dead(s.http->who() + ": no alerts to send");
  if (alert_jsons.size() != alerts.size()) return dead(s.http->who() + ": alerts and their JSON do not line up");
  // The transaction id makes a retried PUT one event: it must be the same on every attempt.
  const std::string txn_id = digest_key(alerts);
  if (txn_id.empty()) return dead(s.http->who() + ": the alert has no id to send it under");
  return s.put(txn_id, matrix_digest_event(alerts));
}

}  // namespace lodestone
