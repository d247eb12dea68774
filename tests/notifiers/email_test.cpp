// The email notifier against a real SMTP server (scripts/smtp_receiver.py, aiosmtpd) on loopback:
// STARTTLS, AUTH, the raw message as received, reply codes to outcomes, digests and cancel().
#include "notifiers/email/email.h"

#include <openssl/evp.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "support/closed_port.h"
#include "support/sample_alert.h"
#include "support/smtp_receiver.h"
#include "support/temp_dir.h"

using lodestone::Alert;
using lodestone::DeliveryAttempt;
using lodestone::EmailNotifier;
using lodestone::EmailOptions;
using Outcome = DeliveryAttempt::Outcome;
using smtp_test::certificate;
using test_support::ClosedPort;
using smtp_test::ReceiverOptions;
using smtp_test::SmtpReceiver;
using lodestone::testing::TempDir;

namespace {

constexpr const char* kPassword = "s3cret-Passw0rd";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string base64_decode(std::string text) {
  text.erase(
      std::remove_if(text.begin(), text.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); }),
      text.end());
  std::string out(text.size() / 4 * 3 + 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  REQUIRE(n >= 0);
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A received message taken apart by hand: headers (unfolded, names lower-case, each kept as many
// times as it occurs) and, for a multipart body, each part's headers and decoded body.
struct Part {
  std::multimap<std::string, std::string> headers;
  std::string raw_head;
  std::string sent;  // transfer decoding undone: the bytes as the sender meant them
  std::string body;  // the same with CRLF as LF

  std::string header(const std::string& name) const {
    auto it = headers.find(lower(name));
    return it == headers.end() ? std::string() : it->second;
  }
  size_t count(const std::string& name) const { return headers.count(lower(name)); }
};
struct Mail : Part {
  std::vector<Part> parts;
};

Part parse_part(std::string text) {
  Part p;
  text = std::regex_replace(text, std::regex("\r\n"), "\n");
  const size_t split = text.find("\n\n");
  p.raw_head = text.substr(0, split);
  const std::string body = split == std::string::npos ? "" : text.substr(split + 2);
  std::vector<std::string> lines;
  std::istringstream in(p.raw_head);
  for (std::string line; std::getline(in, line);) {
    if (!lines.empty() && !line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      lines.back() += line;  // unfold: the CRLF goes, the white space stays
    } else {
      lines.push_back(line);
    }
  }
  for (const auto& line : lines) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    p.headers.emplace(lower(line.substr(0, colon)), value);
  }
  p.sent = lower(p.header("Content-Transfer-Encoding")) == "base64" ? base64_decode(body) : body;
  p.body = std::regex_replace(p.sent, std::regex("\r\n"), "\n");
  return p;
}

Mail parse_mail(const std::string& raw) {
  Mail m;
  static_cast<Part&>(m) = parse_part(raw);
  std::smatch b;
  const std::string type = m.header("Content-Type");
  if (std::regex_search(type, b, std::regex("boundary=\"?([^\";]+)\"?"))) {
    const std::string delimiter = "--" + b[1].str();
    std::string body = std::regex_replace(
        raw.substr(raw.find("\n\n") == std::string::npos ? raw.find("\r\n\r\n") + 4 : raw.find("\n\n") + 2),
        std::regex("\r\n"), "\n");
    size_t at = body.find(delimiter);
    while (at != std::string::npos) {
      const size_t start = body.find('\n', at) + 1;
      if (body.compare(at + delimiter.size(), 2, "--") == 0) break;
      const size_t next = body.find(delimiter, start);
      if (next == std::string::npos) break;
      m.parts.push_back(parse_part(body.substr(start, next - start)));
      at = next;
    }
  }
  return m;
}

// The Subject with RFC 2047 words decoded (white space between two words dropped, as the RFC says).
std::string decode_subject(const std::string& value) {
  std::string out;
  const std::regex word("=\\?UTF-8\\?B\\?([^?]*)\\?=", std::regex::icase);
  size_t last = 0;
  bool after_word = false;
  for (auto it = std::sregex_iterator(value.begin(), value.end(), word); it != std::sregex_iterator(); ++it) {
    std::string between = value.substr(last, static_cast<size_t>(it->position()) - last);
    if (!(after_word && between.find_first_not_of(" \t") == std::string::npos)) out += between;
    out += base64_decode((*it)[1].str());
    last = static_cast<size_t>(it->position() + it->length());
    after_word = true;
  }
  return out + value.substr(last);
}

// The sample alert with a script tag in its post title, for the HTML part to escape.
Alert mail_alert(const std::string& post_id = "M.1") {
  Alert a = lodestone::testing::sample_alert(post_id);
  a.rule.title = "Rare-earth export controls";
  a.post.title = "中國稀土出口管制 <script>alert(1)</script> & more";
  return a;
}

EmailOptions options_for(const std::string& url) {
  EmailOptions o;
  o.name = "analysts";
  o.url = url;
  o.from = "alerts@lodestone.test";
  o.to = {"desk@example.test", "night@example.test"};
  o.ca_file = certificate().cert;
  o.timeout = 20;
  return o;
}

DeliveryAttempt send(EmailNotifier& n, const Alert& a) { return n.send(a, lodestone::to_json(a)); }

}  // namespace

TEST_CASE("options that could inject a header or cannot work are refused without the password", "[email]") {
  EmailOptions good = options_for("smtp://127.0.0.1:2525");
  good.username = "u";
  good.password = kPassword;
  CHECK(lodestone::check_email_options(good).ok());
  CHECK(lodestone::check_email_options(options_for("smtps://mail.example.test")).ok());

  auto refused = [&good](auto change) {
    EmailOptions o = good;
    change(o);
    const std::string why = lodestone::check_email_options(o).error();
    CHECK_FALSE(contains(why, kPassword));
    return why;
  };
  CHECK(contains(refused([](EmailOptions& o) { o.url = "http://127.0.0.1"; }), "smtp:// or smtps://"));
  CHECK(contains(refused([](EmailOptions& o) { o.url = "smtp://u:pw@127.0.0.1"; }), "credentials"));
  CHECK(contains(refused([](EmailOptions& o) { o.from = "a@b.test\r\nBcc: x@y.test"; }), "from"));
  CHECK(contains(refused([](EmailOptions& o) { o.from = "Alerts <a@b.test>"; }), "from"));
  CHECK(contains(refused([](EmailOptions& o) { o.to = {}; }), "at least one"));
  CHECK(contains(refused([](EmailOptions& o) { o.to = {"x@y.test>, <z@w.test"}; }), "to:"));
  CHECK(contains(refused([](EmailOptions& o) { o.to = {"x@y.test\nBcc: z@w.test"}; }), "to:"));
  CHECK(contains(refused([](EmailOptions& o) { o.to = {"a@b.test, c@d.test"}; }), "to:"));
  CHECK(contains(refused([](EmailOptions& o) { o.subject_prefix = "[x]\r\nBcc: z@w.test"; }), "subject_prefix"));
  CHECK(contains(refused([](EmailOptions& o) { o.password = std::string(kPassword) + "\r\n"; }), "password"));
  CHECK(contains(refused([](EmailOptions& o) { o.timeout = 0; }), "timeout"));
  CHECK(contains(refused([](EmailOptions& o) { o.digest = -1; }), "digest"));
  CHECK(contains(refused([](EmailOptions& o) { o.text_template = "/nonexistent/x.mustache"; }),
                 "/nonexistent/x.mustache"));

  EmailNotifier bad([&] {
    EmailOptions o = good;
    o.url = "ftp://127.0.0.1";
    return o;
  }());
  DeliveryAttempt got = send(bad, mail_alert());
  CHECK(got.outcome == Outcome::kDead);
  CHECK(contains(got.error, "smtp://"));
}

TEST_CASE("a subject that is not ASCII becomes UTF-8 encoded-words on folded lines", "[email]") {
  CHECK(lodestone::encode_subject("[lodestone] high rule: title") == "[lodestone] high rule: title");
  const std::string title = "[lodestone] high 稀土: " + std::string(40, 'x') +
                            " 中國對稀土出口管制升級，美國將推動各國加速降低對中國稀土依賴";
  const std::string encoded = lodestone::encode_subject(title);
  CHECK(encoded.rfind("=?UTF-8?B?", 0) == 0);
  std::istringstream lines(std::regex_replace(encoded, std::regex("\r\n"), "\n"));
  int count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    CHECK(line.size() <= 76);  // a word of at most 75 and the folding space
  }
  CHECK(count > 1);
  CHECK(decode_subject(std::regex_replace(encoded, std::regex("\r\n"), "")) == title);

  const std::string long_ascii =
      "[lodestone] high " + std::string(30, 'a') + " " + std::string(30, 'b') + " " + std::string(30, 'c');
  const std::string folded = lodestone::encode_subject(long_ascii);
  CHECK(contains(folded, "\r\n "));
  CHECK(std::regex_replace(folded, std::regex("\r\n"), "") == long_ascii);
}

TEST_CASE("an alert arrives over STARTTLS as one multipart/alternative mail with UTF-8 parts", "[email][smtp]") {
  SmtpReceiver receiver;
  EmailNotifier notifier(options_for(receiver.url()));
  const Alert alert = mail_alert();
  DeliveryAttempt got = send(notifier, alert);
  INFO(got.error);
  REQUIRE(got.outcome == Outcome::kDelivered);
  CHECK(got.status == 250);
  CHECK(got.error.empty());

  const auto messages = receiver.messages();
  REQUIRE(messages.size() == 1);
  CHECK(contains(receiver.envelope(1), "\"tls\": true"));
  CHECK(contains(receiver.envelope(1), "alerts@lodestone.test"));
  CHECK(contains(receiver.envelope(1), "night@example.test"));
  const Mail mail = parse_mail(messages[0]);
  INFO(mail.raw_head);
  CHECK(mail.header("From") == "alerts@lodestone.test");
  CHECK(mail.header("To") == "desk@example.test, night@example.test");
  CHECK(mail.header("Message-ID") == "<" + alert.id + "@lodestone>");
  CHECK(std::regex_match(
      mail.header("Date"),
      std::regex("(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \\d\\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                 "\\d{4} \\d\\d:\\d\\d:\\d\\d \\+0000")));
  CHECK(lower(mail.header("MIME-Version")) == "1.0");
  CHECK(contains(mail.header("Subject"), "=?UTF-8?B?"));
  CHECK(decode_subject(mail.header("Subject")) ==
        "[lodestone] high Rare-earth export controls: 中國稀土出口管制 <script>alert(1)</script> & more");
  CHECK(contains(mail.header("Content-Type"), "multipart/alternative"));

  REQUIRE(mail.parts.size() == 2);
  const Part& text = mail.parts[0];
  const Part& html = mail.parts[1];
  CHECK(contains(lower(text.header("Content-Type")), "text/plain; charset=utf-8"));
  CHECK(contains(lower(html.header("Content-Type")), "text/html; charset=utf-8"));
  INFO(text.body);
  INFO(html.body);
  CHECK(contains(text.body, "body: …中國對[[稀土]]出口…"));
  CHECK(contains(text.body, "Rare-earth export controls"));
  CHECK(contains(text.body, "https://example.com/p/1?x=1&y=2"));
  CHECK(contains(text.body, "ptt/Stock"));
  CHECK(contains(text.body, "2026-01-11T11:00:00Z"));
  CHECK(contains(text.body, "Scott Bessent (person), matched as 貝森特"));
  CHECK(contains(html.body, "…中國對<mark>稀土</mark>出口…"));
  CHECK(contains(html.body, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"));
  CHECK_FALSE(contains(html.body, "<script>"));
  CHECK(contains(html.body, "href=\"https://example.com/p/1?x=1&amp;y=2\""));
}

TEST_CASE("a post title with CR LF cannot add a header", "[email][smtp]") {
  SmtpReceiver receiver;
  EmailNotifier notifier(options_for(receiver.url()));
  Alert alert = mail_alert();
  alert.post.title = "Rare earths\r\nBcc: x@y.test\r\n\r\nbody?";
  DeliveryAttempt got = send(notifier, alert);
  INFO(got.error);
  REQUIRE(got.outcome == Outcome::kDelivered);
  const auto messages = receiver.messages();
  REQUIRE(messages.size() == 1);
  const Mail mail = parse_mail(messages[0]);
  CHECK(mail.count("Bcc") == 0);
  CHECK(mail.count("Subject") == 1);
  CHECK(decode_subject(mail.header("Subject")) ==
        "[lodestone] high Rare-earth export controls: Rare earths  Bcc: x@y.test    body?");
  CHECK_FALSE(contains(receiver.envelope(1), "x@y.test"));
}

TEST_CASE("AUTH with the right password delivers, a wrong one is a dead 535 that hides the password", "[email][smtp]") {
  SmtpReceiver receiver({.tls = true, .user = "alerts", .password = kPassword});
  EmailOptions o = options_for(receiver.url());
  o.username = "alerts";
  o.password = kPassword;
  {
    EmailNotifier notifier(o);
    DeliveryAttempt got = send(notifier, mail_alert());
    INFO(got.error);
    CHECK(got.outcome == Outcome::kDelivered);
    CHECK(receiver.messages().size() == 1);
  }
  o.password = "wrong-Passw0rd";
  EmailNotifier wrong(o);
  DeliveryAttempt got = send(wrong, mail_alert());
  INFO(got.error);
  CHECK(got.outcome == Outcome::kDead);
  CHECK(got.status == 535);
  CHECK(contains(got.error, "analysts"));
  CHECK(contains(got.error, "smtp://127.0.0.1:" + std::to_string(receiver.port())));
  CHECK_FALSE(contains(got.error, "wrong-Passw0rd"));
  CHECK(receiver.messages().size() == 1);

  o.username.clear();
  o.password.clear();
  EmailNotifier anonymous(o);
  got = send(anonymous, mail_alert());
  CHECK(got.outcome == Outcome::kDead);  // 530 authentication required
  CHECK(got.status / 100 == 5);
}

TEST_CASE("a 451 reply to DATA is retried and a 550 is dead, each with its code", "[email][smtp]") {
  {
    SmtpReceiver receiver({.data_reply = "451 4.3.0 try again later"});
    EmailNotifier notifier(options_for(receiver.url()));
    DeliveryAttempt got = send(notifier, mail_alert());
    CHECK(got.outcome == Outcome::kRetry);
    CHECK(got.status == 451);
    CHECK(contains(got.error, "SMTP 451"));
    CHECK(contains(got.error, "analysts"));
  }
  {
    SmtpReceiver receiver({.data_reply = "550 5.7.1 rejected"});
    EmailNotifier notifier(options_for(receiver.url()));
    DeliveryAttempt got = send(notifier, mail_alert());
    CHECK(got.outcome == Outcome::kDead);
    CHECK(got.status == 550);
    CHECK(contains(got.error, "SMTP 550"));
  }
}

TEST_CASE("a server that is down is retried with no status", "[email][smtp]") {
  ClosedPort closed;
  EmailNotifier notifier(options_for("smtp://127.0.0.1:" + std::to_string(closed.port())));
  DeliveryAttempt got = send(notifier, mail_alert());
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(got.status == 0);
  CHECK(contains(got.error, "email \"analysts\" (smtp://127.0.0.1:" + std::to_string(closed.port()) + ")"));
}

TEST_CASE("smtp:// to a server without STARTTLS sends nothing in clear and is dead, saying why", "[email][smtp]") {
  SmtpReceiver receiver({.tls = false});
  EmailNotifier notifier(options_for(receiver.url()));
  DeliveryAttempt got = send(notifier, mail_alert());
  INFO(got.error);
  // Waiting will not make the server offer STARTTLS: not "retried (status 250)".
  CHECK(got.outcome == Outcome::kDead);
  CHECK(contains(got.error, "the server offers no STARTTLS, and smtp:// sends nothing in clear"));
  CHECK(receiver.messages().empty());
}

TEST_CASE("tls = none sends plain SMTP to a relay on loopback", "[email][smtp]") {
  SmtpReceiver receiver({.tls = false});
  EmailOptions o = options_for(receiver.url());
  o.tls = "none";
  o.ca_file.clear();
  EmailNotifier notifier(o);
  DeliveryAttempt got = send(notifier, mail_alert());
  INFO(got.error);
  CHECK(got.outcome == Outcome::kDelivered);
  REQUIRE(receiver.messages().size() == 1);
}

TEST_CASE("tls = none is refused for a relay that is not on loopback, and with smtps://", "[email]") {
  EmailOptions o = options_for("smtp://smtp.example.com:25");
  o.tls = "none";
  CHECK(lodestone::check_email_options(o).error() ==
        "email \"analysts\": tls = \"none\" is allowed for a relay on loopback only (127.0.0.1, ::1, localhost), not "
        "smtp.example.com: mail to another host goes over TLS");
  o.url = "smtp://192.168.1.10:25";
  CHECK(contains(lodestone::check_email_options(o).error(), "loopback only"));
  for (const char* ok : {"smtp://127.0.0.1:25", "smtp://localhost:25", "smtp://[::1]:25"}) {
    o.url = ok;
    INFO(ok);
    CHECK(lodestone::check_email_options(o));
  }
  o.url = "smtps://127.0.0.1:465";
  CHECK(contains(lodestone::check_email_options(o).error(), "cannot go with smtps://"));
  o.url = "smtp://127.0.0.1:25";
  o.tls = "starttls";
  CHECK(contains(lodestone::check_email_options(o).error(), "tls must be \"required\" or \"none\""));
}

TEST_CASE("a server certificate that the CA file does not vouch for is retried and sent nothing", "[email][smtp]") {
  SmtpReceiver receiver;
  EmailOptions o = options_for(receiver.url());
  o.ca_file.clear();  // the system bundle does not know the throwaway certificate
  EmailNotifier notifier(o);
  DeliveryAttempt got = send(notifier, mail_alert());
  INFO(got.error);
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(receiver.messages().empty());
}

TEST_CASE("a digest of three alerts is one mail listing all three", "[email][smtp]") {
  SmtpReceiver receiver;
  EmailOptions o = options_for(receiver.url());
  o.digest = 600;
  EmailNotifier notifier(o);
  CHECK(notifier.digest_interval() == 600);
  std::vector<Alert> alerts = {mail_alert("M.1"), mail_alert("M.2"), mail_alert("M.3")};
  alerts[1].post.title = "Second post";
  alerts[2].post.title = "Third post";
  std::vector<std::string> jsons;
  for (const auto& a : alerts) jsons.push_back(lodestone::to_json(a));
  DeliveryAttempt got = notifier.send_digest(alerts, jsons);
  INFO(got.error);
  REQUIRE(got.outcome == Outcome::kDelivered);
  const auto messages = receiver.messages();
  REQUIRE(messages.size() == 1);
  const Mail mail = parse_mail(messages[0]);
  CHECK(decode_subject(mail.header("Subject")) == "[lodestone] 3 alerts");
  CHECK(std::regex_match(mail.header("Message-ID"), std::regex("<digest-[0-9a-f]{32}@lodestone>")));
  REQUIRE(mail.parts.size() == 2);
  for (const Part& part : mail.parts) {
    for (const Alert& a : alerts) CHECK(contains(part.body, a.id));
    CHECK(contains(part.body, "Second post"));
    CHECK(contains(part.body, "Third post"));
  }
  CHECK(contains(mail.parts[1].body, "<mark>稀土</mark>"));

  // The same alerts give the same Message-ID, so a retried digest threads as one.
  REQUIRE(notifier.send_digest(alerts, jsons).outcome == Outcome::kDelivered);
  const auto again = receiver.messages();
  REQUIRE(again.size() == 2);
  CHECK(parse_mail(again[1]).header("Message-ID") == mail.header("Message-ID"));
}

TEST_CASE("a text template renders the text part from the alert JSON without escaping", "[email][smtp]") {
  SmtpReceiver receiver;
  TempDir dir;
  const std::string path = dir.file("text.mustache");
  dir.write("text.mustache",
            "{{rule.severity}} alert: {{post.title}}\n{{#matches}}- {{field}}: {{text}}\n{{/matches}}");
  EmailOptions o = options_for(receiver.url());
  o.text_template = path;
  EmailNotifier notifier(o);
  DeliveryAttempt got = send(notifier, mail_alert());
  INFO(got.error);
  REQUIRE(got.outcome == Outcome::kDelivered);
  const auto messages = receiver.messages();
  REQUIRE(messages.size() == 1);
  const Mail mail = parse_mail(messages[0]);
  REQUIRE(mail.parts.size() == 2);
  CHECK(mail.parts[0].body == "high alert: 中國稀土出口管制 <script>alert(1)</script> & more\n- body: 稀土\n");
  CHECK(contains(mail.parts[1].body, "<mark>稀土</mark>"));
}

TEST_CASE("text parts go out with CRLF line ends inside their base64", "[email][smtp]") {
  SmtpReceiver receiver;
  EmailNotifier notifier(options_for(receiver.url()));
  REQUIRE(send(notifier, mail_alert()).outcome == Outcome::kDelivered);
  const auto messages = receiver.messages();
  REQUIRE(messages.size() == 1);
  const Mail mail = parse_mail(messages[0]);
  REQUIRE(mail.parts.size() == 2);
  for (const Part& part : mail.parts) {
    CHECK(contains(part.sent, "\r\n"));
    CHECK(std::regex_search(part.sent, std::regex("[^\r]\n")) == false);
  }
}

TEST_CASE("cancel() stops a mail in flight and every later one with kRetry", "[email][smtp]") {
  SmtpReceiver receiver({.delay = 60});
  EmailOptions o = options_for(receiver.url());
  o.timeout = 120;
  EmailNotifier notifier(o);
  DeliveryAttempt got;
  std::thread sender([&] { got = send(notifier, mail_alert()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  notifier.cancel();
  sender.join();
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(contains(got.error, "cancelled"));
  got = send(notifier, mail_alert());
  CHECK(got.outcome == Outcome::kRetry);
  CHECK(contains(got.error, "cancelled"));
  CHECK(receiver.messages().empty());
}
