// The matrix notifier: one m.room.message event per alert (or per digest interval) sent to a room
// through the Matrix client-server API, as a bot user's access token. One notifier serves one
// thread at a time: calls to send()/send_digest() from several threads are serialized; cancel()
// is safe from any thread. matrix_event(), matrix_digest_event() and matrix_send_path() are pure;
// call them from any thread.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "engine/alert_render.h"
#include "lodestone/notifier.h"
#include "lodestone/result.h"

namespace lodestone {

struct MatrixOptions {
  std::string name;
  std::string homeserver;    // the client-server API's base URL: "https://matrix.example.org"
  std::string room_id;       // "!AbCdEf:example.org" (a room id, not an #alias)
  std::string access_token;  // the bot user's; sent as Authorization: Bearer, never shown
  double timeout = 10;       // seconds for the whole attempt, connecting included
  double digest = 0;         // seconds; 0 = one message per alert
};

// Whether these options can work; if not, why, in one sentence that names the notifier and never
// the access token.
Result<void> check_matrix_options(const MatrixOptions& options);

// An event is at most 65,536 bytes with its envelope: every body is fitted to this many bytes.
inline constexpr size_t kMatrixBodyMax = 60000;

// The path a message is PUT to: /_matrix/client/v3/rooms/{room_id}/send/m.room.message/{txn_id},
// each part percent-encoded ("!" → %21, ":" → %3A).
std::string matrix_send_path(std::string_view room_id, std::string_view txn_id);

// The event content of one alert: {"msgtype":"m.text","body":<plain text>,"format":
// "org.matrix.custom.html","formatted_body":<HTML>,"m.mentions":{}}. The HTML has severity, rule
// and the matched text in <strong>, the title as <a href> (only with the summary's URL), the
// snippet in a <blockquote>, lines joined by <br>, every piece of post text escaped; the plain
// body has the same lines, the URL on a line of its own and « » around matched text. The empty
// m.mentions says it mentions nobody, so "@room" in a post pings no one. Fitted to
// kMatrixBodyMax bytes: the snippet is cut first, then the title, never the link.
std::string matrix_event(const AlertSummary& summary);
// One event for all of `alerts`: a heading, each alert shortened, and "and N more" for those that
// do not fit kMatrixBodyMax bytes. One alert gives matrix_event().
std::string matrix_digest_event(std::span<const Alert> alerts);

class MatrixNotifier : public Notifier {
 public:
  // Options that check_matrix_options() refuses give a notifier whose every send() is kDead with
  // that reason and sends nothing.
  explicit MatrixNotifier(MatrixOptions options);
  ~MatrixNotifier() override;
  MatrixNotifier(const MatrixNotifier&) = delete;
  MatrixNotifier& operator=(const MatrixNotifier&) = delete;

  const std::string& name() const override;

  // One PUT of matrix_event() with the alert id as the transaction id, the same on every attempt:
  // the homeserver sends a retried transaction once. 2xx is delivered; 429 (M_LIMIT_EXCEEDED)
  // retries after the Retry-After header or else the body's retry_after_ms; 5xx, network errors
  // and timeouts retry; any other status (401 M_UNKNOWN_TOKEN, 403 M_FORBIDDEN, 400) is dead with
  // the answer's errcode and error.
  DeliveryAttempt send(const Alert& alert, const std::string& alert_json) override;

  double digest_interval() const override;
  // One PUT of matrix_digest_event(alerts), its transaction id digest_key(alerts); answers as
  // for send().
  DeliveryAttempt send_digest(std::span<const Alert> alerts, std::span<const std::string> alert_jsons) override;

  // Safe from any thread: the request in flight stops within about 100 ms, and it and every later
  // send() are kRetry with the error "…: cancelled".
  void cancel() override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace lodestone
