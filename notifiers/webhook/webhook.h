// The webhook notifier: one HTTP POST per attempt, signed as Standard Webhooks
// (https://www.standardwebhooks.com/). One notifier serves one thread at a time; calls to send()
// from several threads are serialized. The signing helpers are pure; call them from any thread.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lodestone/notifier.h"
#include "lodestone/result.h"

namespace lodestone {

struct WebhookOptions {
  std::string name;
  std::string url;              // http:// or https://; userinfo becomes Basic authentication
  std::string secret;           // Standard Webhooks "whsec_<base64>", or raw key bytes; empty: no signature
  std::string format = "json";  // json | slack | discord | template
  std::string template_path;    // format "template": a mustache file, escaped for content_type
  // Format "template": the body's Content-Type (json, slack and discord are application/json).
  std::string content_type = "application/json";
  double timeout = 10;                                       // seconds for the whole attempt, connecting included
  double digest = 0;  // seconds; 0 = one request per alert; else one digest per interval (not with template)
  std::vector<std::pair<std::string, std::string>> headers;  // sent with every request
};

// Whether these options can work; if not, why, in one sentence that names neither the secret nor
// the URL's credentials. The config stage reports it with the option's place.
// Format "template" reads and parses template_path here.
Result<void> check_webhook_options(const WebhookOptions& options);

class WebhookNotifier : public Notifier {
 public:
  // Options that check_webhook_options() refuses give a notifier whose every send() is kDead
  // with that reason and sends nothing.
  explicit WebhookNotifier(WebhookOptions options);
  ~WebhookNotifier() override;
  WebhookNotifier(const WebhookNotifier&) = delete;
  WebhookNotifier& operator=(const WebhookNotifier&) = delete;

  const std::string& name() const override;

  // One POST with headers webhook-id (the alert id), webhook-timestamp (this attempt, unix
  // seconds) and, with a secret, webhook-signature. The `json` body is
  // {"type":"lodestone.alert","timestamp":"<RFC 3339 of this attempt>","data":<alert_json>} with
  // alert_json copied byte for byte; `slack` sends Block Kit and `discord` an embed, both from
  // summarize_alert();
  // `template` sends the template (loaded once, at construction) rendered with alert_json, each
  // `{{x}}` escaped for the content_type: inside a JSON string, as HTML/XML text, or not at all
  // for other types (escape_for_content_type() in notifiers/template.h).
  // 2xx is delivered; 408, 429, 5xx, network errors and timeouts retry; anything else is dead.
  DeliveryAttempt send(const Alert& alert, const std::string& alert_json) override;

  double digest_interval() const override;
  // One request for all of `alerts` (more than one; one alert is send()'s), webhook-id
  // digest_key(alerts): `json` sends {"type":"lodestone.digest","timestamp":<the last alert's
  // matched_at>,"data":[<each alert_json, byte for byte>]}; `slack` and `discord` one message
  // listing each alert (severity, rule, the post title linked), cut to the service's limit with
  // "and N more".
  DeliveryAttempt send_digest(std::span<const Alert> alerts, std::span<const std::string> alert_jsons) override;

  // Safe from any thread: the request in flight stops within about 100 ms, and it and every later
  // send() are kRetry with the error "…: cancelled".
  void cancel() override;

 private:
  // One POST of `body` with the Standard Webhooks headers for `id`; the caller holds the mutex.
  DeliveryAttempt post(const std::string& id, std::string body, const std::string& content_type);

  struct State;
  std::unique_ptr<State> state_;
};

// "v1,<base64 HMAC-SHA256 of id.timestamp.body>", the webhook-signature value. The key is the
// base64-decoded part of a "whsec_" secret, or the secret's own bytes without that prefix.
// Empty when a "whsec_" secret is not valid base64, or the key is empty.
std::string standard_webhooks_signature(std::string_view secret, std::string_view id, std::string_view timestamp,
                                        std::string_view body);


}  // namespace lodestone
