// HttpSender: one libcurl easy handle on a multi handle (so cancel() wakes it at once), the
// answer's status, Retry-After and body start, and the outcome a delivery makes of them.
#include "net/http_sender.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "net/curl_support.h"
#include "util/ascii.h"

namespace lodestone {
namespace {

// Enough of a refusal's body to say why ("invalid_payload", a JSON error), not a page of HTML.
constexpr size_t kQuoted = 200;

using ascii::starts_with_ci;
using ascii::trim;

std::string replace_all(std::string text, std::string_view what, std::string_view with) {
  if (what.empty()) return text;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size())) {
    text.replace(at, what.size(), with);
  }
  return text;
}

std::string format_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

}  // namespace

std::string printable_utf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    const auto byte = [&in](size_t at) { return static_cast<unsigned char>(in[at]); };
    const unsigned char lead = byte(i);
    if (lead < 0x80) {
      out += lead < 0x20 || lead == 0x7f ? ' ' : static_cast<char>(lead);
      ++i;
      continue;
    }
    const size_t length = lead >= 0xC2 && lead <= 0xDF   ? 2
                          : lead >= 0xE0 && lead <= 0xEF ? 3
                          : lead >= 0xF0 && lead <= 0xF4 ? 4
                                                         : 0;
    bool ok = length != 0 && i + length <= in.size();
    for (size_t k = 1; ok && k < length; ++k) ok = (byte(i + k) & 0xC0) == 0x80;
    if (ok) {
      out.append(in.substr(i, length));
      i += length;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

std::string endpoint_who(std::string_view kind, std::string_view name, const UrlParts& url, std::string_view path,
                         std::string_view more) {
  std::string who(kind);
  who.append(" \"").append(name).append("\" (").append(url.scheme).append("://").append(url.host);
  if (!url.port.empty()) who.append(":").append(url.port);
  return who.append(path).append(more).append(")");
}

void Redactor::hide(std::string secret) {
  if (secret.empty()) return;
  hidden_.push_back(std::move(secret));
  // Longest first, so that a secret containing the password is hidden whole.
  std::stable_sort(hidden_.begin(), hidden_.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
}

void Redactor::hide_all(const std::vector<std::string>& secrets) {
  for (const auto& s : secrets) hide(s);
}

std::optional<std::string> Redactor::redact(std::string text) const {
  for (const auto& h : hidden_) {
    if (h.size() >= 4) {
      text = replace_all(std::move(text), h, "***");
    } else if (text.find(h) != std::string::npos) {
      return std::nullopt;
    }
  }
  return text;
}

struct HttpSender::Curl {
  CURL* easy = nullptr;
  CURLM* multi = nullptr;
  char error_buffer[CURL_ERROR_SIZE] = {};
  // Filled during one transfer by the callbacks.
  std::string retry_after;
  std::string body;
  size_t body_kept = 0;
  const std::atomic<bool>* cancelled = nullptr;

  static size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto* self = static_cast<Curl*>(user);
    const std::string_view line(data, size * count);
    // A new status line starts a new response (after a 100 Continue): forget the last one's.
    if (starts_with_ci(line, "HTTP/")) self->retry_after.clear();
    if (starts_with_ci(line, "retry-after:")) self->retry_after = trim(line.substr(12));
    return size * count;
  }
  static size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto* self = static_cast<Curl*>(user);
    const size_t n = size * count;
    if (self->body.size() < self->body_kept) self->body.append(data, std::min(n, self->body_kept - self->body.size()));
    return n;
  }
  static int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<Curl*>(user)->cancelled->load() ? 1 : 0;
  }
};

HttpSender::HttpSender(std::string who, double timeout, Redactor redactor, size_t body_kept)
    : who_(std::move(who)),
      timeout_text_(format_seconds(timeout)),
      redactor_(std::move(redactor)),
      body_kept_(body_kept),
      curl_(std::make_unique<Curl>()) {
  curl_global_once();
  Curl& k = *curl_;
  k.easy = curl_easy_init();
  k.multi = curl_multi_init();
  k.body_kept = body_kept_;
  k.cancelled = &cancelled_;
  if (!k.easy || !k.multi) {
    invalid_ = who_ + ": libcurl could not make a handle";
    return;
  }
  CURL* c = k.easy;
  set_http_defaults(c, timeout, 0);  // a redirect is not followed: the endpoint is the one configured
  curl_easy_setopt(c, CURLOPT_USERAGENT, "lodestone/" LODESTONE_VERSION);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, k.error_buffer);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &Curl::on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &k);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Curl::on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &k);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &Curl::on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &k);
}

HttpSender::~HttpSender() {
  if (curl_->easy) curl_easy_cleanup(curl_->easy);
  if (curl_->multi) curl_multi_cleanup(curl_->multi);
}

void HttpSender::cancel() {
  cancelled_.store(true);
  if (curl_->multi) curl_multi_wakeup(curl_->multi);
}

HttpAnswer HttpSender::send(const HttpRequest& request) {
  HttpAnswer answer;
  if (!invalid_.empty()) {
    answer.permanent = true;
    answer.error = invalid_;
    return answer;
  }
  if (cancelled_.load()) {
    answer.cancelled = true;
    answer.error = who_ + ": cancelled";
    return answer;
  }
  curl_slist* headers = nullptr;
  // curl would wait for a 100 Continue before a large body.
  std::vector<std::string> lines = request.headers;
  lines.emplace_back("Expect:");
  for (const auto& line : lines) {
    curl_slist* next = curl_slist_append(headers, line.c_str());
    if (!next) {
      curl_slist_free_all(headers);
      answer.error = who_ + ": out of memory";
      return answer;
    }
    headers = next;
  }
  Curl& k = *curl_;
  CURL* c = k.easy;
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method == "POST" ? nullptr : request.method.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  k.retry_after.clear();
  k.body.clear();
  k.error_buffer[0] = '\0';
  const CURLcode code = perform_cancellable(k.multi, c, cancelled_);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, nullptr);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, nullptr);
  curl_slist_free_all(headers);

  if (code != CURLE_OK) {
    if (code == CURLE_ABORTED_BY_CALLBACK || cancelled_.load()) {
      answer.cancelled = true;
      answer.error = who_ + ": cancelled";
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
      answer.timed_out = true;
      answer.error = who_ + ": timed out after " + timeout_text_ + " s";
    } else {
      answer.error = who_ + ": " + curl_easy_strerror(code);
      if (k.error_buffer[0] != '\0' && std::string_view(k.error_buffer) != curl_easy_strerror(code)) {
        if (std::optional<std::string> detail = redactor_.redact(k.error_buffer)) answer.error += " (" + *detail + ")";
      }
      // A URL that libcurl cannot use will not become usable by waiting.
      answer.permanent = code == CURLE_UNSUPPORTED_PROTOCOL || code == CURLE_URL_MALFORMAT;
    }
    return answer;
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  answer.transferred = true;
  answer.status = static_cast<int>(status);
  if (!k.retry_after.empty()) answer.retry_after = parse_retry_after(k.retry_after, static_cast<double>(std::time(nullptr)));
  answer.body = std::move(k.body);
  return answer;
}

std::string HttpSender::status_error(const HttpAnswer& answer) const {
  std::string error = who_ + ": HTTP " + std::to_string(answer.status);
  if (answer.status >= 300 && answer.status < 400) error += " (redirects are not followed)";
  const std::string quote = std::string(trim(printable_utf8(std::string_view(answer.body).substr(0, kQuoted))));
  if (std::optional<std::string> shown = redactor_.redact(quote); !quote.empty() && shown) error += ": " + *shown;
  return error;
}

DeliveryAttempt HttpSender::outcome(const HttpAnswer& answer) const {
  DeliveryAttempt result;
  result.status = answer.status;
  result.retry_after = answer.retry_after;
  if (!answer.transferred) {
    result.outcome = answer.permanent ? DeliveryAttempt::Outcome::kDead : DeliveryAttempt::Outcome::kRetry;
    result.error = answer.error;
    return result;
  }
  const int status = answer.status;
  if (status >= 200 && status < 300) {
    result.outcome = DeliveryAttempt::Outcome::kDelivered;
    return result;
  }
  const bool retry = status == 408 || status == 429 || (status >= 500 && status < 600);
  result.outcome = retry ? DeliveryAttempt::Outcome::kRetry : DeliveryAttempt::Outcome::kDead;
  result.error = status_error(answer);
  return result;
}

}  // namespace lodestone
