// The email notifier: message text and HTML, RFC 2047 subjects, option checks, and one SMTP
// transfer over libcurl (its MIME API builds the multipart/alternative body).
#include "net/curl_support.h"
#include "notifiers/email/email.h"

#include <curl/curl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "engine/alert_render.h"
#include "notifiers/template.h"
#include "util/base64.h"
#include "util/listen_address.h"
#include "util/sha256.h"

namespace lodestone {
namespace {

// Raw bytes per encoded-word: 39 bytes are 52 base64 characters, so "Subject: " and the first
// word stay within 78 characters, and every word within RFC 2047's 75.
constexpr size_t kEncodedWordBytes = 39;
constexpr size_t kFoldAt = 78;

std::string or_else(const std::string& a, const std::string& b) { return a.empty() ? b : a; }

bool has_line_break(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos; }

// A bare addr-spec as SMTP and a To header take it whole: local@domain in printable ASCII,
// nothing that could start a display name, a second address, a comment or a new line.
bool is_bare_address(std::string_view a) {
  if (a.empty() || a.size() > 254) return false;
  const size_t at = a.find('@');
  if (at == 0 || at == std::string_view::npos || at + 1 == a.size() || a.find('@', at + 1) != std::string_view::npos)
    return false;
  for (char c : a) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
    if (std::string_view("<>()[],;:\\\"").find(c) != std::string_view::npos) return false;
  }
  return true;
}

// Control characters (CR and LF of a post title among them) as spaces: nothing from an alert
// may end a header line.
std::string one_line(std::string s) {
  for (char& c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  return s;
}

std::string hex(const Digest& d, size_t digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : d) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out.substr(0, digits);
}

// RFC 5322 date-time in UTC, with English names whatever the locale.
std::string rfc5322_date(std::time_t t) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday % 7], tm.tm_mday,
                kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

// Alert ids are hex; anything else is kept out of the Message-ID rather than trusted.
std::string message_id_part(const std::string& id) {
  std::string out;
  for (char c : id) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.') out += c;
  }
  return out.empty() ? "alert" : out;
}

// Text in MIME's canonical form, CRLF line ends, as base64 of a text/* part must carry (RFC 2045 6.8).
std::string crlf(const std::string& text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
    out += text[i];
  }
  return out;
}

// Printable ASCII folded at spaces so that lines stay near 78 characters.
std::string fold_ascii(const std::string& value) {
  std::string out;
  size_t line = 9;  // "Subject: "
  size_t start = 0;
  while (start <= value.size()) {
    size_t end = value.find(' ', start + 1);
    if (end == std::string::npos) end = value.size();
    const std::string_view word = std::string_view(value).substr(start, end - start);  // with its leading space
    if (!out.empty() && line + word.size() > kFoldAt && word.size() > 1 && word[0] == ' ') {
      out += "\r\n";
      line = 0;
    }
    out += word;
    line += word.size();
    if (end == value.size()) break;
    start = end;
  }
  return out;
}

}  // namespace

std::string encode_subject(const std::string& value) {
  bool ascii = value.find("=?") == std::string::npos;
  for (char c : value) ascii = ascii && static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f;
  if (ascii) return fold_ascii(value);
  std::string out;
  for (size_t i = 0; i < value.size();) {
    size_t end = std::min(value.size(), i + kEncodedWordBytes);
    // A word holds whole UTF-8 sequences only (RFC 2047 section 5).
    while (end < value.size() && end > i + 1 && (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80) --end;
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64_encode(std::string_view(value).substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

EmailContent email_content(std::span<const Alert> alerts, const std::string& subject_prefix) {
  EmailContent c;
  const std::string prefix = subject_prefix.empty() ? "" : subject_prefix + " ";
  if (alerts.size() == 1) {
    const Alert& a = alerts[0];
    c.subject = one_line(prefix + a.rule.severity + " " + or_else(a.rule.title, a.rule.id) + ": " +
                         or_else(a.post.title, a.post.id));
    c.text = alert_text_body(a);
    c.html =
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n" + alert_html_section(a) + "</body></html>\n";
    return c;
  }
  c.subject = one_line(prefix + std::to_string(alerts.size()) + " alerts");
  c.text = std::to_string(alerts.size()) + " alerts\n";
  c.html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n<h1>" + std::to_string(alerts.size()) +
           " alerts</h1>\n";
  for (size_t i = 0; i < alerts.size(); ++i) {
    c.text +=
        "\n--- " + std::to_string(i + 1) + " of " + std::to_string(alerts.size()) + " ---\n" + alert_text_body(alerts[i]);
    c.html += "<hr>\n" + alert_html_section(alerts[i]);
  }
  c.html += "</body></html>\n";
  return c;
}

namespace {

std::string check_options(const EmailOptions& o, std::optional<Template>* loaded) {
  if (o.name.empty()) return "an email notifier needs a name";
  const std::string who = "email \"" + o.name + "\": ";
  std::optional<UrlParts> url = split_url(o.url, true);
  if (!url) return who + "url is not a valid URL";
  if (url->scheme != "smtp" && url->scheme != "smtps") return who + "url must start with smtp:// or smtps://";
  if (url->host.empty()) return who + "url has no host";
  if (!url->user.empty() || !url->password.empty()) {
    return who + "url must not hold credentials; set username and password instead";
  }
  if (o.tls != "required" && o.tls != "none") return who + "tls must be \"required\" or \"none\", not \"" + one_line(o.tls) + "\"";
  if (o.tls == "none" && url->scheme == "smtps") return who + "tls = \"none\" cannot go with smtps://, which is TLS";
  const bool bracketed = url->host.size() > 2 && url->host.front() == '[' && url->host.back() == ']';
  if (o.tls == "none" && !is_loopback(bracketed ? url->host.substr(1, url->host.size() - 2) : url->host)) {
    return who + "tls = \"none\" is allowed for a relay on loopback only (127.0.0.1, ::1, localhost), not " + url->host +
           ": mail to another host goes over TLS";
  }
  if (!is_bare_address(o.from)) return who + "from must be one bare address (local@domain)";
  if (o.to.empty()) return who + "to needs at least one address";
  for (const std::string& to : o.to) {
    if (!is_bare_address(to)) return who + "to: \"" + one_line(to) + "\" is not one bare address (local@domain)";
  }
  if (has_line_break(o.username)) return who + "username has a line break or NUL";
  if (has_line_break(o.password)) return who + "password has a line break or NUL";
  if (!o.password.empty() && o.username.empty()) return who + "a password needs a username";
  if (has_line_break(o.subject_prefix)) return who + "subject_prefix has a line break or NUL";
  if (!(o.timeout > 0) || !std::isfinite(o.timeout)) return who + "timeout must be a positive number of seconds";
  if (!(o.digest >= 0) || !std::isfinite(o.digest)) return who + "digest must be 0 or a number of seconds";
  if (!o.ca_file.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(o.ca_file, ec))
      return who + "ca_file " + o.ca_file + " is not a readable file";
  }
  if (!o.text_template.empty()) {
    try {
      Template t = Template::load(o.text_template);
      if (loaded) loaded->emplace(std::move(t));
    } catch (const std::exception& e) {
      return who + e.what();
    }
  }
  return {};
}

std::string replace_all(std::string text, std::string_view what, std::string_view with) {
  if (what.empty()) return text;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size())) {
    text.replace(at, what.size(), with);
  }
  return text;
}

}  // namespace

Result<void> check_email_options(const EmailOptions& options) {
  if (std::string why = check_options(options, nullptr); !why.empty()) return Failure{why};
  return {};
}

struct EmailNotifier::State {
  EmailOptions options;
  std::string invalid;  // why the options cannot work; empty when they can
  std::string who;      // `email "name" (smtp://host:port)`, the start of every error
  std::optional<Template> text_template;
  CURL* curl = nullptr;
  CURLM* multi = nullptr;
  std::atomic<bool> cancelled{false};
  std::mutex mutex;
  char error_buffer[CURL_ERROR_SIZE] = {};
  // The sockets libcurl has open. libcurl waits for SMTP replies in blocking loops (the reply to
  // the end of DATA, QUIT when a connection closes) that only a dead socket ends at once, so
  // cancel() and a failed transfer shut them down.
  std::mutex sockets_mutex;
  std::vector<curl_socket_t> sockets;

  static curl_socket_t on_open_socket(void* user, curlsocktype, curl_sockaddr* address) {
    auto* self = static_cast<State*>(user);
    const curl_socket_t fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    if (fd != CURL_SOCKET_BAD) {
      std::lock_guard<std::mutex> lock(self->sockets_mutex);
      self->sockets.push_back(fd);
    }
    return fd;
  }

  static int on_close_socket(void* user, curl_socket_t fd) {
    auto* self = static_cast<State*>(user);
    {
      // Forgotten before it is closed, so shut_down_sockets() never touches a reused number.
      std::lock_guard<std::mutex> lock(self->sockets_mutex);
      self->sockets.erase(std::remove(self->sockets.begin(), self->sockets.end(), fd), self->sockets.end());
    }
    return ::close(fd);
  }

  void shut_down_sockets() {
    std::lock_guard<std::mutex> lock(sockets_mutex);
    for (curl_socket_t fd : sockets) ::shutdown(fd, SHUT_RDWR);
  }

  static int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<State*>(user)->cancelled.load() ? 1 : 0;
  }

  // curl_easy_perform() on the multi handle, so that cancel() can wake the wait at once.
  CURLcode perform() { return perform_cancellable(multi, curl, cancelled); }

  std::string redact(std::string text) const {
    if (options.password.size() >= 1) text = replace_all(std::move(text), options.password, "***");
    return text;
  }

  // One SMTP transfer of one message.
  DeliveryAttempt deliver(const EmailContent& content, const std::string& message_id) {
    DeliveryAttempt result;
    if (cancelled.load()) {
      result.error = who + ": cancelled";
      return result;
    }
    std::vector<std::string> lines = {
        "From: " + options.from,
        "To: " +
            [this] {
              std::string all;
              for (const auto& to : options.to) all += (all.empty() ? "" : ", ") + to;
              return all;
            }(),
        "Subject: " + encode_subject(content.subject),
        "Date: " + rfc5322_date(std::time(nullptr)),
        "Message-ID: " + message_id,
        // The top-level part is the alternative itself; curl adds the boundary.
        "Content-Type: multipart/alternative",
    };
    curl_slist* headers = nullptr;
    curl_slist* rcpt = nullptr;
    bool ok = true;
    for (const auto& line : lines) ok = ok && (headers = curl_slist_append(headers, line.c_str())) != nullptr;
    for (const auto& to : options.to) ok = ok && (rcpt = curl_slist_append(rcpt, ("<" + to + ">").c_str())) != nullptr;

    const std::string text = crlf(content.text), html_text = crlf(content.html);
    curl_mime* mime = curl_mime_init(curl);
    ok = ok && mime != nullptr;
    for (const auto& [body, type] :
         {std::pair{&text, "text/plain; charset=UTF-8"}, std::pair{&html_text, "text/html; charset=UTF-8"}}) {
      curl_mimepart* part = ok ? curl_mime_addpart(mime) : nullptr;
      ok = ok && part != nullptr && curl_mime_data(part, body->data(), body->size()) == CURLE_OK &&
           curl_mime_type(part, type) == CURLE_OK && curl_mime_encoder(part, "base64") == CURLE_OK;
    }
    CURLcode code = CURLE_OUT_OF_MEMORY;
    if (ok) {
      curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
      curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
      error_buffer[0] = '\0';
      code = perform();
      curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
      curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, nullptr);
      curl_easy_setopt(curl, CURLOPT_MIMEPOST, nullptr);
      // A session that failed part way is not one to say QUIT on, and waiting for the reply
      // to that could outlast the attempt's timeout.
      if (code != CURLE_OK) shut_down_sockets();
    }
    curl_mime_free(mime);
    curl_slist_free_all(headers);
    curl_slist_free_all(rcpt);
    if (!ok) {
      result.error = who + ": out of memory";
      return result;
    }

    long reply = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply);
    result.status = static_cast<int>(reply);
    if (code == CURLE_OK) {
      result.outcome = DeliveryAttempt::Outcome::kDelivered;
      return result;
    }
    if (code == CURLE_ABORTED_BY_CALLBACK || cancelled.load()) {
      result.error = who + ": cancelled";
      return result;
    }
    if (code == CURLE_OPERATION_TIMEDOUT) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", options.timeout);
      result.error = who + ": timed out after " + buf + " s";
      return result;
    }
    if (code == CURLE_USE_SSL_FAILED) {
      // The server's EHLO reply (250) listed no STARTTLS: it will not by the next attempt.
      result.outcome = DeliveryAttempt::Outcome::kDead;
      result.error = who + ": the server offers no STARTTLS, and smtp:// sends nothing in clear (tls = \"none\" is "
                           "for a relay on loopback only)";
      return result;
    }
    result.error = who + ": ";
    if (reply >= 400) result.error += "SMTP " + std::to_string(reply) + ", ";
    result.error += curl_easy_strerror(code);
    if (error_buffer[0] != '\0' && std::string_view(error_buffer) != curl_easy_strerror(code)) {
      result.error += " (" + redact(one_line(error_buffer)) + ")";
    }
    // A 5xx reply is permanent by SMTP's own definition; 4xx and no reply at all are not.
    if ((reply >= 500 && reply < 600) || code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL) {
      result.outcome = DeliveryAttempt::Outcome::kDead;
    }
    return result;
  }
};

EmailNotifier::EmailNotifier(EmailOptions options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = std::move(options);
  const EmailOptions& o = s.options;
  s.invalid = check_options(o, &s.text_template);
  if (!s.invalid.empty()) return;
  const UrlParts url = *split_url(o.url, true);
  s.who = "email \"" + o.name + "\" (" + url.scheme + "://" + url.host + ":" + url.port + ")";

  curl_global_once();
  s.curl = curl_easy_init();
  s.multi = curl_multi_init();
  if (!s.curl || !s.multi) {
    s.invalid = "email \"" + o.name + "\": libcurl could not make a handle";
    return;
  }
  CURL* c = s.curl;
  curl_easy_setopt(c, CURLOPT_URL, o.url.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
  curl_easy_setopt(c, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
  // On smtp:// STARTTLS is required: a server that does not offer it gets nothing in clear.
  // tls = "none" (a loopback relay only, checked above) speaks plain SMTP.
  curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(o.tls == "none" ? CURLUSESSL_NONE : CURLUSESSL_ALL));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!o.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, o.ca_file.c_str());
  if (!o.username.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, o.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, o.password.c_str());
  }
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, ("<" + o.from + ">").c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  const long timeout_ms = std::max(1L, static_cast<long>(std::ceil(o.timeout * 1000)));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  // libcurl waits for some SMTP replies outside the transfer's timeout (QUIT, the end of DATA).
  curl_easy_setopt(c, CURLOPT_SERVER_RESPONSE_TIMEOUT, std::max(1L, timeout_ms / 1000));
  // One SMTP session per mail: a relay drops idle sessions, and digests are far apart.
  curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, &State::on_open_socket);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &s);
  curl_easy_setopt(c, CURLOPT_CLOSESOCKETFUNCTION, &State::on_close_socket);
  curl_easy_setopt(c, CURLOPT_CLOSESOCKETDATA, &s);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s.error_buffer);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &State::on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &s);
}

EmailNotifier::~EmailNotifier() {
  if (state_ && state_->curl) curl_easy_cleanup(state_->curl);
  if (state_ && state_->multi) curl_multi_cleanup(state_->multi);
}

const std::string& EmailNotifier::name() const { return state_->options.name; }

double EmailNotifier::digest_interval() const { return state_->options.digest; }

void EmailNotifier::cancel() {
  state_->cancelled.store(true);
  state_->shut_down_sockets();
  if (state_->multi) curl_multi_wakeup(state_->multi);
}

DeliveryAttempt EmailNotifier::send(const Alert& alert, const std::string& alert_json) {
  return send_digest(std::span<const Alert>(&alert, 1), std::span<const std::string>(&alert_json, 1));
}

DeliveryAttempt EmailNotifier::send_digest(std::span<const Alert> alerts, std::span<const std::string> alert_jsons) {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  auto dead = [](std::string why) { return DeliveryAttempt{DeliveryAttempt::Outcome::kDead, 0, std::move(why), -1}; };
  if (!s.invalid.empty()) return dead(s.invalid);
  if (alerts.empty()) return dead(s.who + ": no alerts to send");
  if (alert_jsons.size() != alerts.size()) return dead(s.who + ": alerts and their JSON do not line up");

  EmailContent content = email_content(alerts, s.options.subject_prefix);
  if (s.text_template) {
    try {
      content.text.clear();
      for (const std::string& json : alert_jsons) {
        if (!content.text.empty()) content.text += "\n";
        content.text += s.text_template->render(json, TemplateEscape::kNone);
      }
    } catch (const std::exception& e) {
      return dead(s.who + ": " + s.options.text_template + ": " + e.what());
    }
  }
  std::string message_id;
  if (alerts.size() == 1) {
    // Appended rather than "<" + part + "@lodestone>": GCC 12 warns falsely (-Wrestrict) on that.
    message_id = "<";
    message_id += message_id_part(alerts[0].id);
    message_id += "@lodestone>";
  } else {
    Sha256 sha;
    for (const Alert& a : alerts) sha.add(a.id).add(std::string_view("\0", 1));
    message_id = "<digest-" + hex(sha.finish(), 32) + "@lodestone>";
  }
  return s.deliver(content, message_id);
}

}  // namespace lodestone
