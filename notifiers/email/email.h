// The email notifier: one mail per alert, or one digest mail per interval, over SMTP with libcurl
// (STARTTLS required on smtp://, implicit TLS on smtps://). One notifier serves one thread at a
// time: calls to send()/send_digest() from several threads are serialized; cancel() is safe from any.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lodestone/notifier.h"
#include "lodestone/result.h"

namespace lodestone {

struct EmailOptions {
  std::string name;
  std::string url;                 // smtp://host[:port] (STARTTLS required) or smtps://host[:port]; no credentials
  std::string username, password;  // SMTP AUTH when username is set
  std::string from;                // a bare address, local@domain
  std::vector<std::string> to;     // bare addresses, at least one
  // A CA bundle (PEM) to verify the server with, for a private relay. libcurl replaces the
  // system bundle with it rather than adding to it, so name a file holding every CA needed.
  std::string ca_file;
  double timeout = 30;  // seconds for one whole attempt, connecting included
  double digest = 0;    // seconds; 0 = one mail per alert
  // "required" (STARTTLS on smtp://, implicit TLS on smtps://) or "none": plain SMTP, allowed on
  // smtp:// to a loopback host only (a local postfix, a sendmail-style relay on 127.0.0.1).
  std::string tls = "required";
  std::string subject_prefix = "[lodestone]";
  std::string text_template;  // optional mustache file for the text part, rendered without escaping
};

// Whether these options can work; if not, why, in one sentence that never names the password. Refused: a scheme other than smtp/smtps, credentials in the URL, an address that is not a
// bare local@domain (no display name, angle brackets, commas, spaces or non-ASCII), CR, LF or NUL
// in any value bound for a header or an SMTP command, a template that does not load.
Result<void> check_email_options(const EmailOptions& options);

class EmailNotifier : public Notifier {
 public:
  // Options that check_email_options() refuses give a notifier whose every send is kDead with
  // that reason and sends nothing. The text template is loaded here, once.
  explicit EmailNotifier(EmailOptions options);
  ~EmailNotifier() override;
  EmailNotifier(const EmailNotifier&) = delete;
  EmailNotifier& operator=(const EmailNotifier&) = delete;

  const std::string& name() const override;

  // One mail: Subject "<prefix> <severity> <rule title or id>: <post title or id>" (RFC 2047
  // encoded-words when not ASCII; CR/LF in a title become spaces), Message-ID <ALERTID@lodestone>,
  // multipart/alternative with a text/plain and a text/html part, UTF-8, base64.
  // Delivered on 250; an SMTP 4xx reply retries, a 5xx reply is dead (535, a refused login,
  // included: a wrong password does not get right by waiting), and so is a server on smtp://
  // that offers no STARTTLS (nothing goes in clear, and waiting will not make it offer it); no
  // reply, other TLS failures and timeouts retry.
  // `status` is the last SMTP reply code (0 when none).
  DeliveryAttempt send(const Alert& alert, const std::string& alert_json) override;

  double digest_interval() const override;
  // One mail listing every alert, one section each: Subject "<prefix> N alerts", Message-ID
  // <digest-<first 32 hex of SHA-256 over the alert ids, each followed by NUL>@lodestone>.
  // A digest of one alert is the mail send() would send. With text_template, the text part is
  // the template rendered once per alert, the renderings one after another.
  DeliveryAttempt send_digest(std::span<const Alert> alerts, std::span<const std::string> alert_jsons) override;

  // The transfer in flight stops within about 100 ms; it and every later send are kRetry, "cancelled".
  void cancel() override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The message parts as they are sent, for tests and `notify-test`: a Subject value (before
// RFC 2047 encoding) and the text and HTML bodies of one alert or a digest.
struct EmailContent {
  std::string subject;
  std::string text;
  std::string html;
};
EmailContent email_content(std::span<const Alert> alerts, const std::string& subject_prefix);

// `value` as a Subject header value: printable ASCII folded at spaces, anything else as UTF-8
// base64 encoded-words of at most 75 characters, one a line. Lines end "\r\n " between parts.
std::string encode_subject(const std::string& value);

}  // namespace lodestone
