// One HTTP request at a time to a notifier's endpoint, over one libcurl handle that another thread
// can cancel, and what its answer means for a delivery: the webhook notifier and every chat
// notifier (telegram, line, ntfy, teams, matrix) send through it. One sender serves one thread at
// a time; cancel() from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lodestone/notifier.h"

namespace lodestone {

// Text from outside (libcurl's message, the receiver's answer) made safe to log and to store:
// control characters become spaces, bytes that are not UTF-8 become "?".
std::string printable_utf8(std::string_view in);

// Strings no message may show (a token, a password, a URL's query or secret path) and the
// replacing of them by "***".
class Redactor {
 public:
  void hide(std::string secret);  // an empty one is ignored
  void hide_all(const std::vector<std::string>& secrets);
  // `text` with each hidden string replaced by "***", longest first. A hidden string of fewer than
  // 4 bytes ("1" from "?page=1") would mangle the text where it occurs by chance, so text holding
  // one is dropped whole instead: nullopt.
  std::optional<std::string> redact(std::string text) const;

 private:
  std::vector<std::string> hidden_;  // longest first
};

struct UrlParts;
// `kind "name" (scheme://host[:port]<path><more>)`: how errors name a notifier's endpoint
// without its secrets. `path` is what of the URL's path may be shown ("/…" where it holds a
// token), `more` anything after it (", room !abc:example.org").
std::string endpoint_who(std::string_view kind, std::string_view name, const UrlParts& url, std::string_view path,
                         std::string_view more = {});

struct HttpRequest {
  std::string method = "POST";       // POST or PUT
  std::string url;
  std::vector<std::string> headers;  // "Name: value" lines; "Name;" sends an empty value
  std::string body;
};

struct HttpAnswer {
  bool transferred = false;  // an HTTP answer came; false: `error` says why not
  bool cancelled = false;    // cancel() stopped it
  bool timed_out = false;
  bool permanent = false;    // no answer, and none would come by asking again (a URL libcurl cannot use)
  int status = 0;
  double retry_after = -1;   // the Retry-After header in seconds, -1 without one
  std::string body;          // the start of the answer's body, up to the sender's `body_kept` bytes
  std::string error;         // without an answer: libcurl's reason, redacted
};

class HttpSender {
 public:
  // Requests time out after `timeout` seconds, connecting included; no redirect is followed.
  // `who` starts every error ("telegram \"ops\" (https://api.telegram.org/…)").
  HttpSender(std::string who, double timeout, Redactor redactor, size_t body_kept = 4096);
  ~HttpSender();
  HttpSender(const HttpSender&) = delete;
  HttpSender& operator=(const HttpSender&) = delete;

  // Empty when the libcurl handles were made; otherwise why not.
  const std::string& invalid() const { return invalid_; }
  const std::string& who() const { return who_; }
  const Redactor& redactor() const { return redactor_; }

  HttpAnswer send(const HttpRequest& request);

  // What an answer means when the service has no rules of its own: 2xx delivered; 408, 429, 5xx,
  // network errors and timeouts retried; any other status dead. Errors start with who() and quote
  // the start of the answer's body, redacted.
  DeliveryAttempt outcome(const HttpAnswer& answer) const;
  // `who(): HTTP <status>` and a short quote of the body: the error of a refused request.
  std::string status_error(const HttpAnswer& answer) const;

  // Safe from any thread: the request in flight stops within about 100 ms, and it and every later
  // one come back cancelled.
  void cancel();
  bool cancelled() const { return cancelled_.load(); }

 private:
  struct Curl;
  std::string who_;
  std::string invalid_;
  std::string timeout_text_;
  Redactor redactor_;
  size_t body_kept_;
  std::atomic<bool> cancelled_{false};
  std::unique_ptr<Curl> curl_;
};

}  // namespace lodestone
