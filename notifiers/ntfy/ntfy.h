// The ntfy notifier: one publish (POST to the topic URL) per alert or per digest, the message in
// Markdown and the title, priority, tags and click URL in headers (https://docs.ntfy.sh/publish/).
// One notifier serves one thread at a time: calls to send()/send_digest() from several threads
// are serialized; cancel() is safe from any. The rendering helpers are pure; call them from any
// thread.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/alert_render.h"
#include "lodestone/notifier.h"
#include "lodestone/result.h"

namespace lodestone {

struct NtfyOptions {
  std::string name;
  // The topic's URL: the server (ntfy.sh or one's own, maybe under a path) and the topic as its
  // last path segment, "https://ntfy.sh/lodestone-alerts". Userinfo becomes Basic authentication.
  std::string url;
  std::string token;    // an access token, sent as Authorization: Bearer; empty: none
  double timeout = 10;  // seconds for the whole attempt, connecting included
  double digest = 0;    // seconds; 0 = one message per alert
};

// Whether these options can work; if not, why, in one sentence that names the notifier and never
// the token or the URL's password.
Result<void> check_ntfy_options(const NtfyOptions& options);

// ntfy's default message limit in bytes; a longer body would be turned into an attachment.
inline constexpr size_t kNtfyMessageMax = 4096;

class NtfyNotifier : public Notifier {
 public:
  // Options that check_ntfy_options() refuses give a notifier whose every send() is kDead with
  // that reason and sends nothing.
  explicit NtfyNotifier(NtfyOptions options);
  ~NtfyNotifier() override;
  NtfyNotifier(const NtfyNotifier&) = delete;
  NtfyNotifier& operator=(const NtfyNotifier&) = delete;

  const std::string& name() const override;

  // POST {url} with the body ntfy_message() and the headers of ntfy_headers().
  // 2xx is delivered; 408, 429 (after Retry-After when given), 5xx, network errors and timeouts
  // retry; 400, 401, 403, 413 and any other status are dead, the error quoting ntfy's "error".
  // No error holds the token.
  DeliveryAttempt send(const Alert& alert, const std::string& alert_json) override;

  double digest_interval() const override;
  // One publish listing every alert (ntfy_digest_message(), ntfy_digest_headers()).
  DeliveryAttempt send_digest(std::span<const Alert> alerts, std::span<const std::string> alert_jsons) override;

  // The request in flight stops within about 100 ms, and it and every later send are kRetry with
  // the error "…: cancelled".
  void cancel() override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The message of one alert in Markdown, at most kNtfyMessageMax bytes (the snippet is cut first,
// never the link): "[title](url)" (the title alone without a URL), the snippet as a quote with
// marked text in **bold**, the values, "Entity: …", "Source: …", one paragraph each. Every piece
// of the alert's text is Markdown-escaped.
std::string ntfy_message(const AlertSummary& summary);
// One message for several alerts: each shortened, "and N more" past the limit.
std::string ntfy_digest_message(std::span<const Alert> alerts);

// The headers of one alert's publish, as "Name: value" lines: Title ("HIGH · rule"), Priority
// (ntfy_priority(); none without a severity), Tags (the rule's, comma separated; none without
// any), Click (the post's URL; none without one), Markdown: yes. Each value passes through
// ntfy_header_value().
std::vector<std::string> ntfy_headers(const AlertSummary& summary);
// A digest's: Title "Lodestone · N alerts", the highest Priority, every Tag once, no Click.
std::vector<std::string> ntfy_digest_headers(std::span<const Alert> alerts);

// critical 5, high 4, medium 3, low 2, info 1; 0 for any other severity (no header: ntfy's default).
int ntfy_priority(const std::string& severity);
// A header value safe to send: control characters (CR and LF among them) become spaces; a value
// that is not printable ASCII, or that holds "=?", becomes RFC 2047 encoded words
// "=?UTF-8?B?<base64>?=" of at most 45 bytes of UTF-8 each, never cutting a character, separated
// by spaces (which decoders drop between words).
std::string ntfy_header_value(std::string_view value);

}  // namespace lodestone
