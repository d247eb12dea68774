// libcurl set-up, URL splitting and cancellable transfers for feeds, webhooks and email.
#include "net/curl_support.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <mutex>
#include <string>
#include <string_view>

namespace lodestone {

void curl_global_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

void set_http_defaults(CURL* c, double timeout, long max_redirects) {
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(c, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, max_redirects > 0 ? 1L : 0L);
  if (max_redirects > 0) curl_easy_setopt(c, CURLOPT_MAXREDIRS, max_redirects);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  const long timeout_ms = std::max(1L, static_cast<long>(std::ceil(timeout * 1000)));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
}

std::optional<UrlParts> split_url(const std::string& url, bool default_port) {
  CURLU* u = curl_url();
  if (!u) return std::nullopt;
  std::optional<UrlParts> result;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    auto get = [u](CURLUPart what, unsigned flags) {
      char* s = nullptr;
      std::string out;
      if (curl_url_get(u, what, &s, flags) == CURLUE_OK && s) out = s;
      curl_free(s);
      return out;
    };
    UrlParts parts;
    parts.scheme = get(CURLUPART_SCHEME, 0);
    parts.host = get(CURLUPART_HOST, 0);
    parts.port = get(CURLUPART_PORT, default_port ? CURLU_DEFAULT_PORT : 0);
    parts.path = get(CURLUPART_PATH, 0);
    parts.user = get(CURLUPART_USER, 0);
    parts.password = get(CURLUPART_PASSWORD, 0);
    for (CURLUPart what : {CURLUPART_PASSWORD, CURLUPART_QUERY}) {
      for (unsigned flags : {0u, static_cast<unsigned>(CURLU_URLDECODE)}) {
        std::string s = get(what, flags);
        if (!s.empty()) parts.hidden.push_back(std::move(s));
      }
    }
    const std::string query = get(CURLUPART_QUERY, 0);
    for (size_t start = 0; start <= query.size();) {
      size_t end = query.find('&', start);
      if (end == std::string::npos) end = query.size();
      const std::string_view pair = std::string_view(query).substr(start, end - start);
      const size_t eq = pair.find('=');
      if (eq != std::string_view::npos && eq + 1 < pair.size()) parts.hidden.emplace_back(pair.substr(eq + 1));
      start = end + 1;
    }
    std::sort(parts.hidden.begin(), parts.hidden.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
    result = std::move(parts);
  }
  curl_url_cleanup(u);
  return result;
}

bool is_header_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

CURLcode perform_cancellable(CURLM* multi, CURL* easy, const std::atomic<bool>& cancelled) {
  constexpr int kPollMs = 100;
  if (curl_multi_add_handle(multi, easy) != CURLM_OK) return CURLE_FAILED_INIT;
  CURLcode code = CURLE_OK;
  for (bool done = false; !done;) {
    int running = 0;
    if (curl_multi_perform(multi, &running) != CURLM_OK) {
      code = CURLE_FAILED_INIT;
      break;
    }
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy) {
        code = msg->data.result;
        done = true;
      }
    }
    if (done) break;
    if (cancelled.load()) {
      code = CURLE_ABORTED_BY_CALLBACK;
      break;
    }
    curl_multi_poll(multi, nullptr, 0, kPollMs, nullptr);
  }
  curl_multi_remove_handle(multi, easy);
  return code;
}

double parse_retry_after(std::string_view value, double now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r' || value.back() == '\n')) {
    value.remove_suffix(1);
  }
  if (value.empty()) return -1;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    double seconds = 0;
    for (char c : value) seconds = seconds * 10 + (c - '0');
    return seconds;
  }
  // An HTTP-date names a weekday and "GMT"; curl_getdate reads looser forms too, and a bare
  // "-5" as a time zone, which must not pass for a date.
  if (value.find(',') == std::string_view::npos && value.find(' ') == std::string_view::npos) return -1;
  const std::time_t at = curl_getdate(std::string(value).c_str(), nullptr);
  if (at == -1) return -1;
  return std::max(0.0, static_cast<double>(at) - now);
}

}  // namespace lodestone
