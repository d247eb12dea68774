// The telegram notifier: one Bot API sendMessage per alert (or per digest), the text in Telegram's
// HTML. One notifier serves one thread at a time: calls to send()/send_digest() from several
// threads are serialized; cancel() is safe from any. The rendering helpers are pure; call them
// from any thread.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "engine/alert_render.h"
#include "lodestone/notifier.h"
#include "lodestone/result.h"

namespace lodestone {

struct TelegramOptions {
  std::string name;
  std::string bot_token;  // "123456789:AA…" from @BotFather; it is part of the URL's path
  // A chat's number ("-1001234567890") or a public channel's "@channelname"; sent as a string.
  std::string chat_id;
  std::string base_url = "https://api.telegram.org";  // http:// or https://, maybe with a path
  bool disable_web_page_preview = false;
  double timeout = 10;  // seconds for the whole attempt, connecting included
  double digest = 0;    // seconds; 0 = one message per alert
};

// Whether these options can work; if not, why, in one sentence that names the notifier and never
// the token.
Result<void> check_telegram_options(const TelegramOptions& options);

// Telegram's limit on a message's text: 4,096 characters after entity parsing, counted in UTF-16
// code units.
inline constexpr size_t kTelegramTextMax = 4096;

class TelegramNotifier : public Notifier {
 public:
  // Options that check_telegram_options() refuses give a notifier whose every send() is kDead
  // with that reason and sends nothing.
  explicit TelegramNotifier(TelegramOptions options);
  ~TelegramNotifier() override;
  TelegramNotifier(const TelegramNotifier&) = delete;
  TelegramNotifier& operator=(const TelegramNotifier&) = delete;

  const std::string& name() const override;

  // POST {base_url}/bot{token}/sendMessage with the JSON body {"chat_id", "text" (telegram_text()),
  // "parse_mode": "HTML", "disable_web_page_preview"}. 2xx is delivered; 429 retries after the
  // body's parameters.retry_after (else the Retry-After header); 5xx, network errors and
  // timeouts retry; 400, 401, 403 and any other status are dead, the error quoting the API's
  // description. No error holds the token.
  DeliveryAttempt send(const Alert& alert, const std::string& alert_json) override;

  double digest_interval() const override;
  // One sendMessage listing every alert (telegram_digest_text()); the same answers as send().
  DeliveryAttempt send_digest(std::span<const Alert> alerts, std::span<const std::string> alert_jsons) override;

  // The request in flight stops within about 100 ms, and it and every later send are kRetry with
  // the error "…: cancelled".
  void cancel() override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The message text for one alert, in Telegram's HTML, fitted into kTelegramTextMax (the snippet
// is cut first, never the link):
//   <b>HIGH</b> · <b>{rule}</b>\n<a href="{url}">{title}</a>\n<blockquote>{snippet, marked text
//   in <b>}</blockquote>\n{values}\nEntity: {entity} (matched as {alias})\nSource: {source}
// Every piece of the alert's text is HTML-escaped; the title is plain text without a URL.
std::string telegram_text(const AlertSummary& summary);
// One text for several alerts: a head line, each alert shortened, "and N more" past the limit.
std::string telegram_digest_text(std::span<const Alert> alerts);
// What Telegram counts against its limit: the text with its tags removed and its entities
// decoded, in UTF-16 code units.
size_t telegram_visible_length(std::string_view html);

}  // namespace lodestone
