// The webhook notifier: bodies, Standard Webhooks signatures, one libcurl handle, outcome mapping.
#include "util/clock.h"
#include "net/curl_support.h"
#include "notifiers/webhook/webhook.h"

#include <curl/curl.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <optional>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "notifiers/template.h"

namespace lodestone {
namespace {

constexpr std::string_view kSecretPrefix = "whsec_";
// Enough of a refusal's body to say why ("invalid_payload", a JSON error), not a page of HTML.
constexpr size_t kResponseKept = 200;
// Discord refuses content longer than 2000 characters.
constexpr size_t kDiscordMaxCodePoints = 2000;

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char a = s[i], b = prefix[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

bool equals_ci(std::string_view a, std::string_view b) { return a.size() == b.size() && starts_with_ci(a, b); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

std::string base64_encode(const unsigned char* data, size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

// Standard base64, padded or not. EVP_DecodeBlock skips surrounding blanks and counts padding as
// zero bytes, so the alphabet is checked here and the padding taken off after.
std::optional<std::string> base64_decode(std::string_view text) {
  std::string padded(text);
  size_t pad = 0;
  while (pad < padded.size() && padded[padded.size() - 1 - pad] == '=') ++pad;
  if (pad > 2) return std::nullopt;
  for (size_t i = 0; i + pad < padded.size(); ++i) {
    const char c = padded[i];
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!ok) return std::nullopt;
  }
  if (pad == 0) {
    if (padded.size() % 4 == 1) return std::nullopt;
    while (padded.size() % 4 != 0) {
      padded += '=';
      ++pad;
    }
  } else if (padded.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out(padded.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(padded.data()), static_cast<int>(padded.size()));
  if (n < 0 || static_cast<size_t>(n) < pad) return std::nullopt;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

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
  return "v1," + base64_encode(out, length);
}

std::string format_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

// What the notifier sets itself; a configured header of that name would send it twice.
bool is_reserved_header(std::string_view name) {
  for (std::string_view r :
       {"content-type", "content-length", "webhook-id", "webhook-timestamp", "webhook-signature"}) {
    if (equals_ci(name, r)) return true;
  }
  return false;
}

std::string replace_all(std::string text, std::string_view what, std::string_view with) {
  if (what.empty()) return text;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size())) {
    text.replace(at, what.size(), with);
  }
  return text;
}

// At most `max` code points of UTF-8 text, "…" at the end when cut.
std::string cut_code_points(const std::string& s, size_t max) {
  size_t count = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (count == max - 1) {
      size_t rest = 0;
      for (size_t j = i; j < s.size(); ++j) rest += (static_cast<unsigned char>(s[j]) & 0xC0) != 0x80;
      if (rest > 1) return s.substr(0, i) + "…";
      return s;
    }
    ++count;
  }
  return s;
}

// Text from a receiver made safe to log and to store as JSON: control characters become spaces,
// bytes that are not UTF-8 (a sequence cut at the end included) become "?".
std::string printable_utf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    const auto byte = [&in](size_t at) { return static_cast<unsigned char>(in[at]); };
    const unsigned char lead = byte(i);
    if (lead < 0x80) {
      out += lead < 0x20 || lead == 0x7f ? ' ' : static_cast<char>(lead);
      ++i;
      continue;
    }
    const size_t length = lead >= 0xC2 && lead <= 0xDF   ? 2
                          : lead >= 0xE0 && lead <= 0xEF ? 3
                          : lead >= 0xF0 && lead <= 0xF4 ? 4
                                                         : 0;
    bool ok = length != 0 && i + length <= in.size();
    for (size_t k = 1; ok && k < length; ++k) ok = (byte(i + k) & 0xC0) == 0x80;
    if (ok) {
      out.append(in.substr(i, length));
      i += length;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

// severity · rule title · post title · url, on one line, for chat receivers.
std::string alert_line(const Alert& a) {
  std::string line;
  auto add = [&line](const std::string& part) {
    if (part.empty()) return;
    if (!line.empty()) line += " · ";
    line += part;
  };
  add(a.rule.severity);
  add(a.rule.title.empty() ? a.rule.id : a.rule.title);
  add(a.post.title.empty() ? a.post.id : a.post.title);
  add(a.post.url);
  for (char& c : line) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return line;
}

std::string dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string body_for(const std::string& format, const std::string& timestamp, const Alert& alert,
                     const std::string& alert_json) {
  if (format == "slack") {
    // Slack reads &, < and > as markup (links, mentions); a post title must not make any.
    std::string text = replace_all(alert_line(alert), "&", "&amp;");
    text = replace_all(std::move(text), "<", "&lt;");
    text = replace_all(std::move(text), ">", "&gt;");
    return dump({{"text", text}});
  }
  if (format == "discord") {
    // A post title saying "@everyone" must not ping anyone.
    return dump({{"content", cut_code_points(alert_line(alert), kDiscordMaxCodePoints)},
                 {"allowed_mentions", {{"parse", nlohmann::ordered_json::array()}}}});
  }
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
  std::string invalid;              // why the options cannot work; empty when they can
  std::string key;                  // the signing key; empty: no signature
  std::string who;                  // `webhook "name" (url without credentials)`, the start of every error
  std::vector<std::string> hidden;  // strings that must not appear in an error
  std::string timeout_text;
  std::optional<Template> body_template;  // format "template"
  CURL* curl = nullptr;
  // Transfers run on a multi handle so that cancel() can wake the wait at once (curl_multi_wakeup).
  CURLM* multi = nullptr;
  std::atomic<bool> cancelled{false};
  std::mutex mutex;
  char error_buffer[CURL_ERROR_SIZE] = {};
  // Filled during one transfer by the callbacks.
  std::string retry_after;
  std::string response;

  // Text from outside (libcurl's message, the receiver's answer) with every hidden string
  // replaced by "***". A hidden string of fewer than 4 bytes ("1" from "?page=1") would mangle
  // the text where it occurs by chance, so text holding one is dropped whole instead: nullopt.
  std::optional<std::string> redact(std::string text) const {
    for (const auto& h : hidden) {
      if (h.size() >= 4) {
        text = replace_all(std::move(text), h, "***");
      } else if (text.find(h) != std::string::npos) {
        return std::nullopt;
      }
    }
    return text;
  }

  static size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto* self = static_cast<State*>(user);
    const std::string_view line(data, size * count);
    // A new status line starts a new response (after a 100 Continue): forget the last one's.
    if (starts_with_ci(line, "HTTP/")) self->retry_after.clear();
    if (starts_with_ci(line, "retry-after:")) self->retry_after = trim(line.substr(12));
    return size * count;
  }

  static size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto* self = static_cast<State*>(user);
    const size_t n = size * count;
    if (self->response.size() < kResponseKept) {
      self->response.append(data, std::min(n, kResponseKept - self->response.size()));
    }
    return n;
  }

  static int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<State*>(user)->cancelled.load() ? 1 : 0;
  }

  // curl_easy_perform() on the multi handle, giving up at once when cancelled.
  CURLcode perform() { return perform_cancellable(multi, curl, cancelled); }

  // The kept start of the response body as a short printable quote, or empty.
  std::string response_quote() const {
    std::string s = std::string(trim(printable_utf8(response)));
    std::optional<std::string> shown = redact(s);
    return s.empty() || !shown ? std::string() : ": " + *shown;
  }
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
  s.who = "webhook \"" + o.name + "\" (" + url.scheme + "://" + url.host + (url.port.empty() ? "" : ":" + url.port) +
          (path_is_secret ? "/…" : url.path) + ")";
  s.hidden = url.hidden;
  if (path_is_secret && url.path.size() > 1) s.hidden.push_back(url.path);
  if (!o.secret.empty()) s.hidden.push_back(o.secret);
  if (o.secret.size() > kSecretPrefix.size() && o.secret.substr(0, kSecretPrefix.size()) == kSecretPrefix) {
    s.hidden.push_back(o.secret.substr(kSecretPrefix.size()));
  }
  // Longest first, so that a secret containing the password is hidden whole.
  std::sort(s.hidden.begin(), s.hidden.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  s.timeout_text = format_seconds(o.timeout);

  curl_global_once();
  s.curl = curl_easy_init();
  s.multi = curl_multi_init();
  if (!s.curl || !s.multi) {
    s.invalid = "webhook \"" + o.name + "\": libcurl could not make a handle";
    return;
  }
  CURL* c = s.curl;
  curl_easy_setopt(c, CURLOPT_URL, o.url.c_str());
  set_http_defaults(c, o.timeout, 0);  // a redirect is not followed: the endpoint is the one configured
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "lodestone/" LODESTONE_VERSION);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s.error_buffer);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &State::on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &State::on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &State::on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &s);
}

WebhookNotifier::~WebhookNotifier() {
  if (state_ && state_->curl) curl_easy_cleanup(state_->curl);
  if (state_ && state_->multi) curl_multi_cleanup(state_->multi);
}

void WebhookNotifier::cancel() {
  state_->cancelled.store(true);
  if (state_->multi) curl_multi_wakeup(state_->multi);
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
  if (s.cancelled.load()) {
    result.error = s.who + ": cancelled";
    return result;
  }
  // The id is the receiver's idempotency key; it goes into a header, and into the signed content
  // where the specification forbids a "." in it. Alert ids are hex: anything else is a bug upstream.
  if (alert.id.empty() || alert.id.find_first_of("\r\n.") != std::string::npos) {
    return dead(s.who + ": the alert has no usable id");
  }

  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  const std::string timestamp = std::to_string(static_cast<long long>(now));
  std::string body;
  if (s.body_template) {
    try {
      body = s.body_template->render(alert_json, TemplateEscape::kJson);
    } catch (const std::exception& e) {
      return dead(s.who + ": " + e.what());
    }
  } else {
    // The body's timestamp is when the alert was made, not this attempt's time (that is in the
    // webhook-timestamp header): every attempt then sends the same bytes.
    const std::string event_time = alert.matched_at.empty() ? rfc3339_utc(now) : alert.matched_at;
    body = body_for(s.options.format, event_time, alert, alert_json);
  }
  const std::string content_type = s.body_template ? s.options.content_type : "application/json";

  std::vector<std::string> lines = {"Content-Type: " + content_type, "webhook-id: " + alert.id,
                                    "webhook-timestamp: " + timestamp,
                                    // curl would wait for a 100 Continue before a large body.
                                    "Expect:"};
  if (!s.key.empty()) lines.push_back("webhook-signature: " + sign(s.key, alert.id, timestamp, body));
  for (const auto& [name, value] : s.options.headers) {
    // "Name;" is curl's way to send a header with an empty value ("Name:" would remove it).
    lines.push_back(value.empty() ? name + ";" : name + ": " + value);
  }
  curl_slist* headers = nullptr;
  for (const auto& line : lines) {
    curl_slist* next = curl_slist_append(headers, line.c_str());
    if (!next) {
      curl_slist_free_all(headers);
      result.error = s.who + ": out of memory";
      return result;
    }
    headers = next;
  }

  CURL* c = s.curl;
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  s.retry_after.clear();
  s.response.clear();
  s.error_buffer[0] = '\0';
  const CURLcode code = s.perform();
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, nullptr);
  curl_slist_free_all(headers);

  if (code != CURLE_OK) {
    result.status = 0;
    if (code == CURLE_ABORTED_BY_CALLBACK || s.cancelled.load()) {
      result.error = s.who + ": cancelled";
      return result;
    }
    if (code == CURLE_OPERATION_TIMEDOUT) {
      result.error = s.who + ": timed out after " + s.timeout_text + " s";
      return result;
    }
    result.error = s.who + ": " + curl_easy_strerror(code);
    if (s.error_buffer[0] != '\0' && std::string_view(s.error_buffer) != curl_easy_strerror(code)) {
      if (std::optional<std::string> detail = s.redact(s.error_buffer)) result.error += " (" + *detail + ")";
    }
    // A URL that libcurl cannot use will not become usable by waiting.
    if (code == CURLE_UNSUPPORTED_PROTOCOL || code == CURLE_URL_MALFORMAT)
      result.outcome = DeliveryAttempt::Outcome::kDead;
    return result;
  }

  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  result.status = static_cast<int>(status);
  if (!s.retry_after.empty()) {
    result.retry_after = parse_retry_after(s.retry_after, static_cast<double>(std::time(nullptr)));
  }
  if (status >= 200 && status < 300) {
    result.outcome = DeliveryAttempt::Outcome::kDelivered;
    return result;
  }
  const bool retry = status == 408 || status == 429 || (status >= 500 && status < 600);
  result.outcome = retry ? DeliveryAttempt::Outcome::kRetry : DeliveryAttempt::Outcome::kDead;
  result.error = s.who + ": HTTP " + std::to_string(status);
  if (status >= 300 && status < 400) result.error += " (redirects are not followed)";
  result.error += s.response_quote();
  return result;
}

}  // namespace lodestone
