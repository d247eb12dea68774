// libcurl pieces shared by the feed and ptt sources and the webhook and email notifiers: global
// set-up once, the options every HTTP handle takes, a URL split into what a message may show and
// what it must hide, and a transfer that another thread can cancel at once. Pure functions;
// perform_cancellable() on the transfer's thread.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lodestone {

// curl_global_init(), once per process, before the first handle.
void curl_global_once();

// What every HTTP client handle here is set up with: http and https only (redirects too),
// `max_redirects` followed (0: none), TLS peer and host verified, no SIGALRM (transfers run on
// threads of their own), and `timeout` seconds for the transfer and for its connection.
void set_http_defaults(CURL* easy, double timeout, long max_redirects);

struct UrlParts {
  std::string scheme, host, port, path, user, password;
  // What no message may show: the password and the query, raw and URL-decoded, and each query
  // value alone ("token=abc" may come back as just "abc"); longest first, for replacing.
  std::vector<std::string> hidden;
};
// Splits `url` with libcurl's parser; nullopt when it cannot. With `default_port`, a URL naming
// no port gets its scheme's.
std::optional<UrlParts> split_url(const std::string& url, bool default_port = false);

// RFC 9110 token characters only: what an HTTP header name may hold (configured headers are checked).
bool is_header_name(std::string_view name);

// A Retry-After value (delta-seconds, or an HTTP-date read against `now`, unix seconds) as seconds
// to wait: 0 for a date already past, -1 when it is neither. Spaces and tabs around it are
// ignored, and a trailing CR LF.
double parse_retry_after(std::string_view value, double now);

// curl_easy_perform() for `easy` on `multi` (added and removed here), waking every 100 ms and at
// curl_multi_wakeup(), so that a `cancelled` set by another thread ends it at once with
// CURLE_ABORTED_BY_CALLBACK.
CURLcode perform_cancellable(CURLM* multi, CURL* easy, const std::atomic<bool>& cancelled);

}  // namespace lodestone
