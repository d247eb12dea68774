// The line notifier: one Messaging API push message per alert (or per digest), as plain text,
// with an X-Line-Retry-Key made from the alert id so that a retried push is never shown twice.
// One notifier serves one thread at a time: calls to send()/send_digest() from several threads
// are serialized; cancel() is safe from any. The rendering helpers are pure; call them from any
// thread.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "engine/alert_render.h"
#include "lodestone/notifier.h"
#include "lodestone/result.h"

namespace lodestone {

struct LineOptions {
  std::string name;
  std::string channel_access_token;  // a long-lived or v2.1 channel access token; sent as a Bearer token
  std::string to;                    // a user (U…), group (C…) or room (R…) id: a letter and 32 hex digits
  std::string base_url = "https://api.line.me";  // http:// or https://, maybe with a path
  double timeout = 10;                           // seconds for the whole attempt, connecting included
  double digest = 0;                             // seconds; 0 = one message per alert
};

// Whether these options can work; if not, why, in one sentence that names the notifier and never
// the token.
Result<void> check_line_options(const LineOptions& options);

// LINE's limit on a text message: 5,000 characters, counted in UTF-16 code units.
inline constexpr size_t kLineTextMax = 5000;

class LineNotifier : public Notifier {
 public:
  // Options that check_line_options() refuses give a notifier whose every send() is kDead with
  // that reason and sends nothing.
  explicit LineNotifier(LineOptions options);
  ~LineNotifier() override;
  LineNotifier(const LineNotifier&) = delete;
  LineNotifier& operator=(const LineNotifier&) = delete;

  const std::string& name() const override;

  // POST {base_url}/v2/bot/message/push, Authorization: Bearer <token>, X-Line-Retry-Key:
  // line_retry_key(alert id) (the same on every attempt), body
  // {"to": …, "messages": [{"type": "text", "text": line_text()}]}.
  // 2xx is delivered, and so is 409 (the retry key was accepted before: an earlier attempt got
  // through); 408, 429, 5xx, network errors and timeouts retry; 400, 401, 403 and any other status
  // are dead, the error quoting the API's message and details. An alert id that is not 32 hex
  // digits is dead (it cannot make a retry key). No error holds the token.
  DeliveryAttempt send(const Alert& alert, const std::string& alert_json) override;

  double digest_interval() const override;
  // One push listing every alert (line_digest_text()), its retry key line_retry_key(digest_key(alerts)).
  DeliveryAttempt send_digest(std::span<const Alert> alerts, std::span<const std::string> alert_jsons) override;

  // The request in flight stops within about 100 ms, and it and every later send are kRetry with
  // the error "…: cancelled".
  void cancel() override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// 32 hex digits written as a UUID, 8-4-4-4-12, lower case; empty when `hex32` is not 32 hex digits.
std::string line_retry_key(std::string_view hex32);

// The text of one alert, plain (LINE reads no markup), fitted into kLineTextMax (the snippet is
// cut first, never the URL):
//   HIGH · {rule}\n{title}\n{url}\n{snippet, marked text in « »}\n{values}\n
//   Entity: {entity} (matched as {alias})\nSource: {source}
std::string line_text(const AlertSummary& summary);
// One text for several alerts: a head line, each alert shortened, "and N more" past the limit.
std::string line_digest_text(std::span<const Alert> alerts);

}  // namespace lodestone
