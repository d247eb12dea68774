// The teams notifier: an Adaptive Card posted to a Microsoft Teams Workflows webhook (the "Post to
// a channel when a webhook request is received" workflow), one per alert or one per digest
// interval. One notifier serves one thread at a time: calls to send()/send_digest() from several
// threads are serialized; cancel() is safe from any thread. teams_body() and teams_digest_body()
// are pure; call them from any thread.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "engine/alert_render.h"
#include "lodestone/notifier.h"
#include "lodestone/result.h"

namespace lodestone {

struct TeamsOptions {
  std::string name;
  // The workflow's URL, https://…logic.azure.com…/workflows/…/triggers/manual/paths/invoke?…&sig=…
  // Its query holds the signature: no message shows it (errors show scheme, host and path only).
  std::string url;
  double timeout = 10;  // seconds for the whole attempt, connecting included
  double digest = 0;    // seconds; 0 = one message per alert
};

// Whether these options can work; if not, why, in one sentence that names the notifier and never
// the URL's query.
Result<void> check_teams_options(const TeamsOptions& options);

// Teams takes about 28 KB of message: every body is fitted to this many bytes.
inline constexpr size_t kTeamsBodyMax = 28000;

// The JSON body of one alert: {"type":"message","attachments":[<an Adaptive Card 1.4>]} whose card
// shows severity and rule (a TextBlock), the post title and the snippet (RichTextBlocks of
// TextRuns, which Teams never reads as Markdown; the matched text highlighted and bold), values,
// entity and source (a FactSet, Markdown-escaped), and an "Open post" action when the summary has
// a URL. Fitted to kTeamsBodyMax bytes: the snippet is cut first, then the title, never the action.
std::string teams_body(const AlertSummary& summary);
// One card for all of `alerts`: a heading, then each alert shortened, with its own "Open post";
// "and N more" for those that do not fit kTeamsBodyMax bytes. One alert gives teams_body().
std::string teams_digest_body(std::span<const Alert> alerts);

class TeamsNotifier : public Notifier {
 public:
  // Options that check_teams_options() refuses give a notifier whose every send() is kDead with
  // that reason and sends nothing.
  explicit TeamsNotifier(TeamsOptions options);
  ~TeamsNotifier() override;
  TeamsNotifier(const TeamsNotifier&) = delete;
  TeamsNotifier& operator=(const TeamsNotifier&) = delete;

  const std::string& name() const override;

  // One POST of teams_body() to the URL. 2xx (Workflows answers 202 Accepted) is delivered; 429
  // retries after its Retry-After; 5xx, network errors and timeouts retry; any other status (400
  // InvalidRequestContent, 401, 403, 404) is dead, with the answer's error code and message.
  DeliveryAttempt send(const Alert& alert, const std::string& alert_json) override;

  double digest_interval() const override;
  // One POST of teams_digest_body(alerts); answers as for send().
  DeliveryAttempt send_digest(std::span<const Alert> alerts, std::span<const std::string> alert_jsons) override;

  // Safe from any thread: the request in flight stops within about 100 ms, and it and every later
  // send() are kRetry with the error "…: cancelled".
  void cancel() override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace lodestone
